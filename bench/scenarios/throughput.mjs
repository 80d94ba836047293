// throughput: N ticks over 50 symbols are published to a fresh topic first (by the real `producer`, replaying an
// NDJSON file at REPLAY_SPEED=max), then the real `processor` consumes them into a fresh Postgres database and a
// private Redis; measured from its start to the checkpoint that covers the topic's end.
// Baseline, in the same run, before and after: a bare kafkajs eachBatch consumer that only JSON.parses the records.
import { createWriteStream } from "node:fs"
import { rm } from "node:fs/promises"
import os from "node:os"
import { join } from "node:path"
import pg from "pg"
import { createTopic, deleteTopics, endOffsets, kafka, producer as kafkaProducer } from "../../support/kafka.mjs"
import { jsonLines } from "../../support/lines.mjs"
import { cpuMeter, procStat, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { ratio, round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"

export const describe =
  "N ticks over 50 symbols: Kafka → processor → Postgres + Redis, vs a bare kafkajs eachBatch JSON.parse consumer"

const writeReplayFile = async (file, n, symbols, spacing) => {
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

const seedWithProducer = async (env, topic, file, n) => {
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

const seedWithKafkajs = async (env, topic, file, n) => {
  const { readFile } = await import("node:fs/promises")
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

const runBaseline = async (env, topic, label) => {
  const spawned = Date.now()
  const proc = startNodeScript(
    "baseline-consumer.mjs",
    ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", unique("bench_base"), "--mode", "drain"],
    { name: `baseline-${label}` }
  )
  const cpu = cpuMeter(proc.pid)
  cpu.start()
  const marks = {}
  jsonLines(proc, (m) => {
    if (m.ev === "joined" && marks.joined === undefined) marks.joined = m.t
    if (m.ev === "first") marks.first = m.t
    if (m.ev === "done") Object.assign(marks, { done: m.t, records: m.records, parsed: m.parsed })
  })
  const exit = await Promise.race([proc.exited, sleep(600_000).then(() => proc.stop("SIGKILL"))])
  const usage = cpu.stop()
  if (marks.done === undefined)
    throw new Error(`baseline consumer did not finish (${JSON.stringify(exit)}):\n${proc.output().slice(-3000)}`)
  const consumeSeconds = (marks.done - marks.joined) / 1000
  return {
    label,
    records: marks.records,
    startupSeconds: round((marks.joined - spawned) / 1000, 2),
    consumeSeconds: round(consumeSeconds, 3),
    rate: round(marks.records / consumeSeconds, 0),
    wallSeconds: round((marks.done - spawned) / 1000, 2),
    wallRate: round(marks.records / ((marks.done - spawned) / 1000), 0),
    cpuPercent: usage.cpuPercent,
    rssMiB: usage.rssMiB
  }
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const n = Number(options.ticks)
  const symbols = Number(options.symbols ?? 50)
  const spacing = Number(options.spacingMs ?? 1000)
  if (!(spacing >= symbols))
    throw new Error("--spacing-ms must be at least --symbols (event times are spacing × k + symbol index)")
  const topic = unique("bench_tp")
  const dbName = unique("bench_tp")
  const file = join(os.tmpdir(), `${topic}.ndjson`)
  clean.add("replay file", () => rm(file, { force: true }))
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))

  log(`throughput: writing ${n} ticks over ${symbols} symbols to ${file}`)
  const lastEventTimes = await writeReplayFile(file, n, symbols, spacing)
  log(`throughput: publishing them to ${topic}`)
  const seed =
    options.seed === "kafkajs"
      ? await seedWithKafkajs(env, topic, file, n)
      : await seedWithProducer(env, topic, file, n)
  log(`throughput: published ${seed.records} in ${seed.seconds} s (${seed.rate}/s)`)
  if (seed.records !== n) throw new Error(`the topic holds ${seed.records} records, expected ${n}`)

  const migrate = startCli("migrate", { DATABASE_URL: db })
  const migrated = await migrate.exited
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)

  log("throughput: baseline (before)")
  const before = await runBaseline(env, topic, "before")
  log(`throughput: baseline ${before.rate}/s`)

  log("throughput: processor")
  const passthrough = {}
  if (options.batchSize !== undefined) passthrough.BATCH_SIZE = String(options.batchSize)
  if (options.checkpointInterval !== undefined) passthrough.CHECKPOINT_INTERVAL = String(options.checkpointInterval)
  if (options.maxPending !== undefined) passthrough.MAX_PENDING_TICKS = String(options.maxPending)
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  const { Redis } = await import("ioredis")
  const cacheReader = new Redis(redis.url)
  const lastKeys = [...lastEventTimes.keys()].map((s) => `latest:simulator:${s}-USD`)
  const wantLast = [...lastEventTimes.values()]
  const spawned = Date.now()
  const processor = startCli(
    "processor",
    {
      KAFKA_BROKERS: env.KAFKA_BROKERS,
      REDIS_URL: redis.url,
      DATABASE_URL: db,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: unique("bench_proc"),
      ...passthrough
    },
    { cpuProfileDir: profileDir, name: "throughput-processor" }
  )
  clean.add("processor", () => processor.stop("SIGKILL"))
  const cpu = cpuMeter(processor.pid)
  cpu.start()
  let claimed
  let firstCheckpoint
  let done
  let processed
  let checkpointsSeen = 0
  let lastSum = -1
  let peakRss = 0
  const timeline = []
  try {
    await eventually(
      async () => {
        if (!processor.alive()) throw new Error(`processor exited:\n${processor.output().slice(-3000)}`)
        const rows = (
          await client.query("SELECT partition, next_offset::bigint AS o FROM processor_checkpoints WHERE topic = $1", [
            topic
          ])
        ).rows
        const t = Date.now()
        peakRss = Math.max(peakRss, procStat(processor.pid)?.rss ?? 0)
        if (processed === undefined && rows.length > 0) {
          const values = await cacheReader.mget(...lastKeys)
          if (values.every((v, i) => v !== null && Number(v.match(/"eventTime":(\d+)/)?.[1]) === wantLast[i]))
            processed = Date.now()
        }
        if (rows.length === 0) return undefined
        claimed ??= t
        const sum = rows.reduce((a, r) => a + Number(r.o), 0)
        if (sum !== lastSum) {
          if (sum > 0) checkpointsSeen++
          lastSum = sum
          if (timeline.length === 0 || t - timeline.at(-1).t >= 1000 || sum >= n) timeline.push({ t, records: sum })
        }
        if (sum > 0) firstCheckpoint ??= t
        if (rows.length === 3 && sum >= n) {
          done = t
          return true
        }
        return undefined
      },
      Math.max(300_000, n * 5),
      "the processor's checkpoints to cover the topic's end",
      50
    )
  } finally {
    await client.end()
    cacheReader.disconnect()
  }
  const usage = cpu.stop()
  processed ??= done
  const consumeSeconds = (done - claimed) / 1000
  // Steady state: between 10 % and 90 % of the records (no start-up, no tail).
  const at = (f) => timeline.find((p) => p.records >= f * n)
  const s10 = at(0.1)
  const s90 = at(0.9)
  const steadyRate =
    s10 && s90 && s90.t > s10.t ? round((s90.records - s10.records) / ((s90.t - s10.t) / 1000), 0) : null
  const processedSeconds = (processed - claimed) / 1000
  const pipeline = {
    records: n,
    startupSeconds: round((claimed - spawned) / 1000, 2),
    consumeSeconds: round(consumeSeconds, 3),
    rate: round(n / consumeSeconds, 0),
    processedSeconds: round(processedSeconds, 3),
    processedRate: round(n / processedSeconds, 0),
    steadyRate10to90: steadyRate,
    wallSeconds: round((done - spawned) / 1000, 2),
    wallRate: round(n / ((done - spawned) / 1000), 0),
    firstCheckpointAfterClaimSeconds: round((firstCheckpoint - claimed) / 1000, 2),
    checkpointAdvancesSeen: checkpointsSeen,
    cpuPercent: usage.cpuPercent,
    peakRssMiB: round(peakRss / 2 ** 20, 1)
  }
  log(`throughput: processor ${pipeline.rate}/s`)

  // Correctness of what was measured: every tick once, every candle counts each tick once, the cache has them all.
  const [ticks] = await query(db, "SELECT count(*)::int AS n, count(DISTINCT symbol)::int AS symbols FROM ticks")
  const candleCounts = await query(
    db,
    "SELECT interval, sum(tick_count)::bigint AS n, count(*)::int AS rows FROM candles GROUP BY interval ORDER BY interval"
  )
  const r = new Redis(redis.url)
  const latestKeys = (await r.keys("latest:*")).filter((k) => k !== "latest:markets").length
  await r.quit()
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const dlq = [...(await endOffsets(admin, `${topic}.dlq`).catch(() => new Map())).values()].reduce((a, b) => a + b, 0)
  await admin.disconnect()

  const stopped = await processor.stop("SIGTERM")
  log("throughput: baseline (after)")
  const after = await runBaseline(env, topic, "after")
  const baselineRate = Math.round((before.rate + after.rate) / 2)
  const baselineWallRate = Math.round((before.wallRate + after.wallRate) / 2)

  return {
    parameters: {
      ticks: n,
      symbols,
      eventTimeSpacingMsPerSymbol: spacing,
      partitions: 3,
      seed: seed.by,
      batchSize: passthrough.BATCH_SIZE ?? "default (100)",
      checkpointInterval: passthrough.CHECKPOINT_INTERVAL ?? "default (5 seconds)",
      redis: redis.kind
    },
    figures: {
      seed,
      pipeline,
      baseline: { before, after, rate: baselineRate, wallRate: baselineWallRate },
      processorExit: stopped
    },
    ratio: {
      consumeRate: ratio(pipeline.rate, baselineRate),
      processedRate: ratio(pipeline.processedRate, baselineRate),
      wallRate: ratio(pipeline.wallRate, baselineWallRate),
      definition:
        "pipeline records/s ÷ baseline records/s. consumeRate: from partition assignment (claim / group join) " +
        "to the checkpoint covering the last record (durable in Postgres); processedRate: to the moment the " +
        "cache holds every symbol's last tick (processed, not yet durable); wallRate: from process start"
    },
    target: { consumeRateRatio: 0.8, met: ratio(pipeline.rate, baselineRate) >= 0.8 },
    correctness: [
      { check: "every tick in Postgres once", ok: ticks.n === n },
      {
        check: "every candle interval counts each tick once",
        ok: candleCounts.length === 5 && candleCounts.every((c) => Number(c.n) === n)
      },
      { check: "the cache holds every symbol", ok: latestKeys === symbols },
      { check: "nothing in the DLQ", ok: dlq === 0 }
    ],
    checks: {
      ticksInPostgres: ticks.n,
      symbolsInPostgres: ticks.symbols,
      everyTickOnce: ticks.n === n,
      candleTickCounts: Object.fromEntries(candleCounts.map((c) => [c.interval, { ticks: Number(c.n), rows: c.rows }])),
      candlesCountEachTickOnce: candleCounts.length === 5 && candleCounts.every((c) => Number(c.n) === n),
      latestKeysInRedis: latestKeys,
      dlqRecords: dlq
    }
  }
}
