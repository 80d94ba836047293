// The venues scenario's bare baselines, fed with the very trades the pipeline stored (read back from its topic):
//   drain   — bench/lib/baseline-consumer.mjs reads the pipeline's topic to its end (UTF-8 + JSON.parse per record)
//   relay   — the same trades published again at the same rate and in the same order into a fresh topic, with
//             eventTime = ingestTime = the moment of sending, through bench/lib/baseline-sse.mjs (kafkajs → Redis
//             PUBLISH → node:http SSE) to the same SSE client: trade → SSE without the venue hop and the processor.
import { createTopic, deleteTopics, producer, readTopic } from "../../support/kafka.mjs"
import { jsonLines, lineReader } from "../../support/lines.mjs"
import { freePort, procStat, startNodeScript } from "../../support/processes.mjs"
import { unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"

/** CPU-seconds (utime + stime from /proc) a process used since `start()`; keeps the last sample once it exits. */
export const cpuSeconds = (pid) => {
  let first = 0
  let last = 0
  let timer
  const sample = () => {
    const s = procStat(pid)
    if (s !== null) last = s.cpu
  }
  return {
    start: () => {
      first = procStat(pid)?.cpu ?? 0
      last = first
      timer = setInterval(sample, 250)
      timer.unref()
    },
    stop: () => {
      clearInterval(timer)
      sample()
      return round(last - first, 2)
    }
  }
}

/** The bare consumer drains the pipeline's topic; its rate from group join to the last record, and its CPU. */
export const drainBaseline = async (env, topic) => {
  const spawned = Date.now()
  const proc = startNodeScript(
    "baseline-consumer.mjs",
    ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", unique("bench_vbase"), "--mode", "drain"],
    { name: "venues-baseline-drain" }
  )
  const cpu = cpuSeconds(proc.pid)
  cpu.start()
  const marks = {}
  jsonLines(proc, (m) => {
    if (m.ev === "joined") marks.joined ??= m.t
    if (m.ev === "done") Object.assign(marks, { done: m.t, records: m.records })
  })
  const exit = await Promise.race([proc.exited, sleep(600_000).then(() => proc.stop("SIGKILL"))])
  const cpuSec = cpu.stop()
  if (marks.done === undefined)
    throw new Error(`baseline consumer did not finish (${JSON.stringify(exit)}):\n${proc.output()}`)
  const seconds = (marks.done - marks.joined) / 1000
  return {
    records: marks.records,
    consumeSeconds: round(seconds, 3),
    rate: round(marks.records / seconds, 0),
    startupSeconds: round((marks.joined - spawned) / 1000, 2),
    cpuSeconds: cpuSec,
    cpuSecondsPer1kRecords: round((1000 * cpuSec) / marks.records, 4),
    cpuNote: "the whole process, start-up included"
  }
}

/** Publishes prepared values at `rate`, in order, each stamped with the moment it is sent. */
const replayAtRate = async (prod, topic, values, rate) => {
  let sent = 0
  const inflight = new Set()
  const t0 = performance.now()
  while (sent < values.length) {
    const due = Math.min(values.length, Math.floor(((performance.now() - t0) / 1000) * rate)) - sent
    if (due > 0) {
      const now = Date.now()
      const messages = values.slice(sent, sent + due).map((v) => {
        v.tick.eventTime = now
        v.tick.ingestTime = now
        return { key: v.key, value: JSON.stringify(v.tick) }
      })
      sent += due
      const p = prod.send({ topic, acks: -1, messages }).catch(() => undefined)
      inflight.add(p)
      p.finally(() => inflight.delete(p))
      if (inflight.size > 200) await Promise.race(inflight)
    }
    await sleep(2)
  }
  await Promise.allSettled([...inflight])
  return { sent, seconds: round((performance.now() - t0) / 1000, 2) }
}

/**
 * The relay baseline: the pipeline's trades (those from `since` on) again, at the same rate, through the bare
 * kafkajs → Redis → SSE relay.
 */
export const relayBaseline = async ({ env, redis, clean, topic, rate, since = 0 }) => {
  const records = (await readTopic(env.KAFKA_BROKERS, topic))
    .map((r) => ({ key: r.key, tick: JSON.parse(r.value) }))
    .filter((r) => r.tick.eventTime >= since)
  records.sort((a, b) => a.tick.eventTime - b.tick.eventTime)
  const baseTopic = unique("bench_vrelay")
  await createTopic(env.KAFKA_BROKERS, baseTopic, 3)
  clean.add("relay topic", () => deleteTopics(env.KAFKA_BROKERS, [baseTopic]))
  const port = await freePort()
  const relay = startNodeScript(
    "baseline-sse.mjs",
    ["--port", String(port), "--redis", redis.url, "--channel", "bench:venues", "--relay-topic", baseTopic].concat([
      "--brokers",
      env.KAFKA_BROKERS,
      "--group",
      unique("bench_vrelay")
    ]),
    { name: "venues-baseline-relay" }
  )
  clean.add("relay", () => relay.stop("SIGKILL"))
  const relayLines = lineReader(relay)
  await relayLines.next((m) => m.ev === "joined", 60_000, "relay consumer join")
  const client = await sseClient(`http://127.0.0.1:${port}/api/events`, "venues-baseline-client")
  clean.add("relay client", () => client.proc.stop("SIGKILL"))
  const from = Date.now()
  client.proc.send({ cmd: "phase", name: "relay", by: "ingest", from, to: from + 3_600_000 })
  const cpu = cpuSeconds(relay.pid)
  cpu.start()
  const prod = await producer(env.KAFKA_BROKERS)
  const published = await replayAtRate(prod, baseTopic, records, rate)
  await prod.disconnect()
  const got = await clientReport(client, "relay", records.length)
  const relayCpu = cpu.stop()
  client.proc.send({ cmd: "close" })
  return {
    records: records.length,
    published,
    received: got.ticks,
    lagMs: got.lagMs,
    relayCpuSeconds: relayCpu
  }
}

/** One SSE client process (bench/lib/sse-clients.mjs) measuring receipt − eventTime. */
export const sseClient = async (url, name) => {
  const proc = startNodeScript(
    "sse-clients.mjs",
    ["--url", url, "--clients", "1", "--lag", "eventTime", "--max-seconds", "1800"],
    {
      name,
      stdin: "pipe"
    }
  )
  const lines = lineReader(proc)
  const connected = await lines.next((m) => m.ev === "connected", 30_000, "connection")
  if (connected.clients !== 1) throw new Error(`${name}: the SSE client could not connect to ${url}`)
  return { proc, lines }
}

/** The phase's report once `want` ticks arrived, or after 30 s more (stragglers count as missing, not as a hang). */
export const clientReport = async (client, phase, want) => {
  const deadline = Date.now() + 30_000
  let last
  while (Date.now() < deadline) {
    client.proc.send({ cmd: "report" })
    last = await client.lines.after((m) => m.ev === "report", 20_000, "report")
    if (last.phases[phase].ticks >= want) break
    await sleep(500)
  }
  return { ...last.phases[phase], clientCpuSeconds: last.cpuSeconds }
}
