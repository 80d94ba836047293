// The throughput scenario's contenders, each on a fresh database and a fresh consumer group of the same filled
// topic: our processor, the minimal exactly-once sink, the COPY ceiling and the consume-only consumer. Each run
// returns its durable time and rate, the CPU-seconds of every process involved in that window, and its checks.
import { join } from "node:path"
import { Redis } from "ioredis"
import { endOffsets, kafka } from "../../support/kafka.mjs"
import { jsonLines, lineReader } from "../../support/lines.mjs"
import { benchDir } from "../../support/paths.mjs"
import { startCli, startNodeScript, startProcess } from "../../support/processes.mjs"
import { unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"
import { checkDatabase, freshDatabase, pollDurable } from "./throughput-durable.mjs"
import { meter, rssWatch } from "./throughput-meters.mjs"

/** CPU-seconds per million ticks of each process, and their total (null when one could not be read). */
export const perMillion = (cpu, n) => {
  const out = {}
  let total = 0
  for (const [name, s] of Object.entries(cpu)) {
    out[name] = s === null ? null : round((s * 1e6) / n, 2)
    total = s === null || total === null ? null : total + s
  }
  out.total = total === null ? null : round((total * 1e6) / n, 2)
  return out
}

const figures = (n, durableSeconds, cpu, extra, waited) => ({
  durableSeconds: round(durableSeconds, 3),
  ticksPerSecond: round(n / durableSeconds, 0),
  cpuSeconds: cpu,
  // Runnable but not running (the machine's other load): seconds of the window the contender's threads waited.
  runQueueWaitSeconds: waited ?? null,
  cpuSecondsPerMillionTicks: perMillion(cpu, n),
  ...extra
})

const peer = (script, args, name) =>
  startProcess(process.execPath, [join(benchDir, "peers", script), ...args], {
    name,
    env: { ...process.env },
    stdin: "pipe"
  })

/**
 * Our `processor` into a fresh database and the (flushed) private Redis. `keep(db)` runs before the database goes.
 * `dist`: another build of ours (--compare-dist, e.g. the commit before a change), run as `node <dist>/main.js`.
 */
export const runOurs = async (ctx, rep, keep, dist) => {
  const { env, redis, topic, n, symbols, pids, passthrough, profileDir, clean, timeoutMs } = ctx
  const db = await freshDatabase(env, clean, "bench_tp_ours")
  const cache = new Redis(redis.url)
  await cache.flushall()
  const spawned = Date.now()
  const app = {
    KAFKA_BROKERS: env.KAFKA_BROKERS,
    REDIS_URL: redis.url,
    DATABASE_URL: db.url,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: unique("bench_proc"),
    ...passthrough
  }
  const name = `throughput-processor${dist ? "-compared" : ""}-${rep}`
  const proc = startCli("processor", app, { cpuProfileDir: profileDir, name, ...(dist === undefined ? {} : { dist }) })
  clean.add("processor", () => proc.stop("SIGKILL"))
  const m = meter({ processor: proc.pid, postgres: pids.postgres, kafka: pids.kafka, redis: pids.redis })
  const rss = rssWatch(proc.pid)
  let a
  let b
  try {
    const polled = await pollDurable({
      url: db.url,
      topic,
      n,
      partitions: 3,
      proc,
      timeoutMs,
      onClaim: () => (a = m.mark()),
      onDone: () => (b = m.mark())
    })
    const rssMaxMiB = rss.stop()
    const checks = await checkDatabase(db.url, n, { candles: true })
    checks.latestKeysInRedis = (await cache.keys("latest:*")).filter((k) => k !== "latest:markets").length
    const admin = kafka(env.KAFKA_BROKERS).admin()
    await admin.connect()
    const dlq = await endOffsets(admin, `${topic}.dlq`).catch(() => new Map())
    await admin.disconnect()
    checks.dlqRecords = [...dlq.values()].reduce((x, y) => x + y, 0)
    checks.ok = checks.ok && checks.latestKeysInRedis === symbols && checks.dlqRecords === 0
    const exit = await proc.stop("SIGTERM")
    if (keep) await keep(db)
    return figures(
      n,
      polled.durableSeconds,
      m.between(a, b),
      {
        rep,
        startupSeconds: round((polled.claimed - spawned) / 1000, 2),
        firstCheckpointAfterClaimSeconds: polled.firstCheckpointAfterClaimSeconds,
        checkpointAdvancesSeen: polled.checkpointAdvancesSeen,
        steadyRate10to90: polled.steadyRate10to90,
        rssMaxMiB,
        checks,
        exit
      },
      m.waitedBetween(a, b)
    )
  } finally {
    rss.stop()
    cache.disconnect()
    await proc.stop("SIGKILL")
    await db.drop()
  }
}

/** bench/peers/minimal-sink.mjs: each batch's ticks and offset in one transaction, same tables, same claim. */
export const runSink = async (ctx, rep) => {
  const { env, topic, n, pids, clean, timeoutMs, sinkWrite } = ctx
  const db = await freshDatabase(env, clean, "bench_tp_sink")
  const spawned = Date.now()
  const args = ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", unique("bench_sink")]
  const proc = peer("minimal-sink.mjs", [...args, "--database-url", db.url, "--write", sinkWrite], `sink-${rep}`)
  clean.add("minimal sink", () => proc.stop("SIGKILL"))
  const m = meter({ sink: proc.pid, postgres: pids.postgres, kafka: pids.kafka })
  const rss = rssWatch(proc.pid)
  let a
  let b
  try {
    const polled = await pollDurable({
      url: db.url,
      topic,
      n,
      partitions: 3,
      proc,
      timeoutMs,
      onClaim: () => (a = m.mark()),
      onDone: () => (b = m.mark())
    })
    const rssMaxMiB = rss.stop()
    const checks = await checkDatabase(db.url, n, { candles: false })
    return figures(
      n,
      polled.durableSeconds,
      m.between(a, b),
      {
        rep,
        write: sinkWrite,
        startupSeconds: round((polled.claimed - spawned) / 1000, 2),
        firstCheckpointAfterClaimSeconds: polled.firstCheckpointAfterClaimSeconds,
        checkpointAdvancesSeen: polled.checkpointAdvancesSeen,
        steadyRate10to90: polled.steadyRate10to90,
        rssMaxMiB,
        checks,
        exit: await proc.stop("SIGTERM")
      },
      m.waitedBetween(a, b)
    )
  } finally {
    rss.stop()
    await proc.stop("SIGKILL")
    await db.drop()
  }
}

/** Dumps our processor's rows (ticks, final candles, checkpoints) for the COPY ceiling. */
export const dumpForCeiling = async (url, dir) => {
  const proc = peer("copy-ceiling.mjs", ["dump", "--database-url", url, "--dir", dir], "copy-dump")
  const lines = lineReader(proc)
  const dumped = await lines.next((l) => l.ev === "dumped", 300_000, "the dump")
  await proc.exited
  return dumped.rows
}

/** bench/peers/copy-ceiling.mjs: the dumped rows COPYed into a fresh database in one transaction. */
export const runCeiling = async (ctx, rep, dir) => {
  const { env, n, pids, clean, timeoutMs } = ctx
  const db = await freshDatabase(env, clean, "bench_tp_copy")
  const proc = peer("copy-ceiling.mjs", ["load", "--database-url", db.url, "--dir", dir], `copy-${rep}`)
  clean.add("copy ceiling", () => proc.stop("SIGKILL"))
  const m = meter({ copy: proc.pid, postgres: pids.postgres, kafka: pids.kafka })
  const lines = lineReader(proc)
  try {
    await lines.next((l) => l.ev === "ready", 120_000, "the ceiling to load its rows")
    const rss = rssWatch(proc.pid)
    const a = m.mark()
    proc.send({ go: true })
    const done = await lines.next((l) => l.ev === "done", timeoutMs, "the COPY to commit")
    const b = m.mark()
    const rssMaxMiB = rss.stop()
    const checks = await checkDatabase(db.url, n, { candles: true })
    return figures(n, done.seconds, m.between(a, b), { rep, rows: done.rows, rssMaxMiB, checks }, m.waitedBetween(a, b))
  } finally {
    await proc.stop("SIGTERM")
    await db.drop()
  }
}

/** The old bare baseline: kafkajs eachBatch doing only toString + JSON.parse (no Postgres); joined → last record. */
export const runConsumeOnly = async (ctx, rep) => {
  const { env, topic, n } = ctx
  const group = unique("bench_base")
  const proc = startNodeScript(
    "baseline-consumer.mjs",
    ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", group, "--mode", "drain"],
    { name: `consume-only-${rep}` }
  )
  const m = meter({ consumer: proc.pid, kafka: ctx.pids.kafka })
  const rss = rssWatch(proc.pid)
  const marks = {}
  jsonLines(proc, (l) => {
    if (l.ev === "joined" && marks.joined === undefined) Object.assign(marks, { joined: l.t, a: m.mark() })
    if (l.ev === "done") Object.assign(marks, { done: l.t, records: l.records, b: m.mark() })
  })
  const exit = await Promise.race([proc.exited, sleep(ctx.timeoutMs).then(() => proc.stop("SIGKILL"))])
  if (marks.done === undefined)
    throw new Error(`consume-only did not finish (${JSON.stringify(exit)}):\n${proc.output().slice(-3000)}`)
  // It exits at its end: its last CPU sample may be gone; the mark taken at "done" is kept when it is.
  const cpu = m.between(marks.a, marks.b)
  return {
    ...figures(
      n,
      (marks.done - marks.joined) / 1000,
      cpu,
      { rep, rssMaxMiB: rss.stop() },
      m.waitedBetween(marks.a, marks.b)
    ),
    checks: { records: marks.records, ok: marks.records === n }
  }
}
