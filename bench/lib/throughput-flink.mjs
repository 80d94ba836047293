// Flink as a throughput contender (with --peers): bench/peers/flink.mjs builds its job and runs it on the same
// topic into a fresh database; we add the CPU of Postgres and Kafka over the run. Missing module: logged, skipped.
import { existsSync } from "node:fs"
import { join } from "node:path"
import { benchDir } from "../../support/paths.mjs"
import { log } from "../../support/results.mjs"
import { unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { perMillion } from "./throughput-contenders.mjs"
import { freshDatabase } from "./throughput-durable.mjs"
import { meter } from "./throughput-meters.mjs"

/** The seed's configuration, and a faster-checkpointing parallel one. */
export const flinkConfigs = [
  { name: "flink-p1-60s", parallelism: 1, checkpointMs: 60_000 },
  { name: "flink-p2-5s", parallelism: 2, checkpointMs: 5_000 }
]

/** bench/peers/flink.mjs with its job built, or null (with the reason) when it is missing or does not build. */
export const loadFlink = async () => {
  const file = join(benchDir, "peers", "flink.mjs")
  if (!existsSync(file)) return { flink: null, skipped: "bench/peers/flink.mjs is missing" }
  try {
    const flink = await import(file)
    const build = await flink.buildFlink({ log })
    return { flink, build }
  } catch (e) {
    log(`throughput: Flink skipped: ${e.stack ?? e}`)
    return { flink: null, skipped: `Flink could not be built: ${String(e.message ?? e).slice(0, 500)}` }
  }
}

/** One Flink run in `config`; CPU of its JVM (its own figure) plus Postgres and Kafka over the whole call. */
export const runFlinkRep = async (ctx, flink, config, rep) => {
  const { env, topic, n, pids, clean, timeoutMs } = ctx
  const db = await freshDatabase(env, clean, "bench_tp_flink")
  const m = meter({ postgres: pids.postgres, kafka: pids.kafka })
  try {
    const a = m.mark()
    const r = await flink.runFlink({
      brokers: env.KAFKA_BROKERS,
      topic,
      databaseUrl: db.url,
      expectedTicks: n,
      parallelism: config.parallelism,
      checkpointMs: config.checkpointMs,
      groupId: unique("bench_flink"),
      log,
      clean,
      timeoutMs
    })
    const b = m.mark()
    const cpu = { jvm: r.cpuSeconds?.jvm ?? null, ...m.between(a, b) }
    const checks = r.checks ?? {}
    return {
      rep,
      durableSeconds: round(r.seconds, 3),
      ticksPerSecond: round(r.ticksPerSecond ?? n / r.seconds, 0),
      startupSeconds: r.startupSeconds,
      cpuSeconds: cpu,
      runQueueWaitSeconds: null,
      cpuSecondsPerMillionTicks: perMillion(cpu, n),
      cpuWindow: "the JVM: as bench/peers/flink.mjs measures it; Postgres and Kafka: the whole runFlink call",
      rssMaxMiB: r.rssMaxMiB,
      checks: { ...checks, ok: checks.ticksInPostgres === n && !checks.lost && !checks.doubleCounted },
      config: r.config
    }
  } finally {
    await db.drop()
  }
}
