// The throughput scenario's input: N ticks over S symbols written to an NDJSON file, then published to the topic
// by the real producer (SOURCE=replay, REPLAY_SPEED=max) or by kafkajs directly.
import { createWriteStream } from "node:fs"
import { readFile } from "node:fs/promises"
import { endOffsets, kafka, producer as kafkaProducer } from "../../support/kafka.mjs"
import { cpuMeter, startCli } from "../../support/processes.mjs"
import { round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"

export const writeReplayFile = async (file, n, symbols, spacing) => {
  const coins = benchSymbols(symbols)
  const perSymbol = Math.ceil(n / symbols)
  // By default one tick per symbol per second (`spacing` ms of event time), ending a minute ago: hours of history
  // at 1M ticks, every candle interval used.
  const t0 = Date.now() - 60_000 - perSymbol * spacing
  const prices = coins.map((c) => c.price)
  const lastEventTime = new Map()
  const stream = createWriteStream(file)
  let chunk = ""
  for (let i = 0; i < n; i++) {
    const s = i % symbols
    const k = Math.floor(i / symbols)
    prices[s] = round(prices[s] * Math.exp((Math.random() - 0.5) * 0.004), 6)
    const c = coins[s]
    lastEventTime.set(c.symbol, t0 + k * spacing + s)
    const volume = round(0.5 + Math.random() * 3, 4)
    chunk += `{"symbol":"${c.symbol}","coinId":"${c.coinId}","price":${prices[s]},"volume":${volume},"eventTime":${t0 + k * spacing + s}}\n`
    if (chunk.length > 1 << 20) {
      if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r))
      chunk = ""
    }
  }
  stream.end(chunk)
  await new Promise((r, j) => stream.once("finish", r).once("error", j))
  // The last event time of each symbol: when the cache holds all of them, the processor has processed everything.
  return lastEventTime
}

export const seedWithProducer = async (env, topic, file, n) => {
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const t0 = performance.now()
  const producer = startCli("producer", {
    KAFKA_BROKERS: env.KAFKA_BROKERS,
    KAFKA_TOPIC: topic,
    SOURCE: `replay:${file}`,
    REPLAY_SPEED: "max"
  })
  const cpu = cpuMeter(producer.pid)
  cpu.start()
  let total = 0
  try {
    await eventually(
      async () => {
        total = [...(await endOffsets(admin, topic)).values()].reduce((a, b) => a + b, 0)
        if (total >= n) return true
        if (!producer.alive())
          throw new Error(
            `producer exited before publishing everything (${total}/${n}):\n${producer.output().slice(-3000)}`
          )
        return undefined
      },
      Math.max(120_000, n * 2),
      "the producer to publish every tick",
      200
    )
  } finally {
    await admin.disconnect()
  }
  const seconds = (performance.now() - t0) / 1000
  const usage = cpu.stop()
  // It stops by itself at the end of the file; SIGTERM only if it lingers.
  const exit = await Promise.race([producer.exited, sleep(10_000).then(() => producer.stop("SIGTERM"))])
  return {
    by: "producer (SOURCE=replay, REPLAY_SPEED=max)",
    records: total,
    seconds: round(seconds, 2),
    rate: round(total / seconds, 0),
    producerCpuPercent: usage.cpuPercent,
    exit
  }
}

export const seedWithKafkajs = async (env, topic, file, n) => {
  const lines = (await readFile(file, "utf8")).split("\n").filter((l) => l.length > 0)
  const prod = await kafkaProducer(env.KAFKA_BROKERS)
  const t0 = performance.now()
  for (let i = 0; i < lines.length; i += 5000) {
    const messages = lines.slice(i, i + 5000).map((value) => {
      const v = JSON.parse(value)
      return { key: v.symbol, value: JSON.stringify({ ...v, source: "replay", ingestTime: Date.now() }) }
    })
    await prod.send({ topic, acks: -1, messages })
  }
  await prod.disconnect()
  const seconds = (performance.now() - t0) / 1000
  return { by: "kafkajs, 5,000 per send", records: n, seconds: round(seconds, 2), rate: round(n / seconds, 0) }
}
