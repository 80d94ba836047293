// throughput: N ticks over 50 symbols are published to a fresh topic first (by the real `producer`, replaying an
// NDJSON file at REPLAY_SPEED=max). Then, in interleaved rounds, each contender reads that same topic with a fresh
// consumer group into a fresh database: our `processor` (Postgres + a private Redis), the minimal exactly-once sink
// (bench/peers/minimal-sink.mjs: the floor of our own design), the COPY ceiling (bench/peers/copy-ceiling.mjs: our
// processor's rows COPYed in one transaction), the consume-only consumer (JSON.parse, no Postgres) and, with
// --peers, Flink (bench/peers/flink.mjs) in two configurations. Each is timed from its claim to all N ticks durable,
// with the CPU-seconds of every process involved (from /proc) and its peak RSS. See docs/BENCHMARKS.md.
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import os from "node:os"
import { basename, join, resolve } from "node:path"
import { createTopic, deleteTopics } from "../../support/kafka.mjs"
import { log } from "../../support/results.mjs"
import { unique } from "../../support/services.mjs"
import { dumpForCeiling, runCeiling, runConsumeOnly, runOurs, runSink } from "../lib/throughput-contenders.mjs"
import { flinkConfigs, loadFlink, runFlinkRep } from "../lib/throughput-flink.mjs"
import { servicePids } from "../lib/throughput-meters.mjs"
import { compare, correctness, summarise } from "../lib/throughput-report.mjs"
import { seedWithKafkajs, seedWithProducer, writeReplayFile } from "../lib/throughput-seed.mjs"

export const describe =
  "N ticks over 50 symbols: Kafka → processor → Postgres + Redis, vs a minimal exactly-once sink, a COPY ceiling " +
  "and a consume-only consumer (and Flink with --peers), interleaved repetitions"

const labels = {
  ours: "our processor: decode, dedupe, 5 candle intervals + indicators, Redis, fenced checkpoint transaction",
  minimalSink: "minimal exactly-once sink: kafkajs eachBatch, each batch's ticks + offset in one transaction",
  copyCeiling: "COPY ceiling: our processor's ticks, final candles and checkpoint rows, COPY FROM STDIN, one commit",
  consumeOnly: "consume-only: kafkajs eachBatch, toString + JSON.parse, nothing written (not durable)",
  "flink-p1-60s": "Flink, parallelism 1, checkpoints every 60 s (the seed's)",
  "flink-p2-5s": "Flink, parallelism 2, checkpoints every 5 s"
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const n = Number(options.ticks)
  const symbols = Number(options.symbols ?? 50)
  const spacing = Number(options.spacingMs ?? 1000)
  const reps = Number(options.reps ?? 3)
  const sinkWrite = String(options.sinkWrite ?? "unnest")
  if (!(spacing >= symbols))
    throw new Error("--spacing-ms must be at least --symbols (event times are spacing × k + symbol index)")
  if (!(reps >= 1)) throw new Error("--reps must be at least 1")
  if (sinkWrite !== "unnest" && sinkWrite !== "copy") throw new Error("--sink-write must be unnest or copy")
  const topic = unique("bench_tp")
  const work = await mkdtemp(join(os.tmpdir(), `${topic}-`))
  clean.add("work directory", () => rm(work, { recursive: true, force: true }))
  const file = join(work, "ticks.ndjson")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))

  log(`throughput: writing ${n} ticks over ${symbols} symbols to ${file}`)
  await writeReplayFile(file, n, symbols, spacing)
  log(`throughput: publishing them to ${topic}`)
  const seed =
    options.seed === "kafkajs"
      ? await seedWithKafkajs(env, topic, file, n)
      : await seedWithProducer(env, topic, file, n)
  log(`throughput: published ${seed.records} in ${seed.seconds} s (${seed.rate}/s)`)
  if (seed.records !== n) throw new Error(`the topic holds ${seed.records} records, expected ${n}`)

  const passthrough = {}
  if (options.batchSize !== undefined) passthrough.BATCH_SIZE = String(options.batchSize)
  if (options.checkpointInterval !== undefined) passthrough.CHECKPOINT_INTERVAL = String(options.checkpointInterval)
  if (options.maxPending !== undefined) passthrough.MAX_PENDING_TICKS = String(options.maxPending)
  const pids = servicePids(env, redis.pid)
  log(`throughput: CPU read from /proc for postgres ${pids.postgres}, kafka ${pids.kafka}, redis ${pids.redis}`)
  const ctx = {
    env,
    redis,
    topic,
    n,
    symbols,
    pids,
    passthrough,
    profileDir,
    clean,
    sinkWrite,
    timeoutMs: Math.max(300_000, n * 5)
  }
  const flink = options.peers ? await loadFlink() : { flink: null, skipped: "not asked for (--peers)" }
  if (flink.skipped) log(`throughput: Flink: ${flink.skipped}`)

  const compared = options.compareDist
    ? String(options.compareDist)
        .split(",")
        .map((d) => resolve(d))
    : []
  const names = { ...labels }
  for (const dir of compared) names[`ours@${basename(dir)}`] = `our processor, the build in ${dir} (--compare-dist)`
  const results = Object.fromEntries(Object.keys(names).map((k) => [k, []]))
  const dumpDir = join(work, "ceiling")
  await mkdir(dumpDir)
  let dumped
  const all = [
    [
      "ours",
      (rep) => runOurs(ctx, rep, dumped ? undefined : async (db) => (dumped = await dumpForCeiling(db.url, dumpDir)))
    ],
    // --compare-dist DIR[,DIR…]: other builds of ours (copies of dist/ from before a change), interleaved with ours.
    ...compared.map((dir) => [`ours@${basename(dir)}`, (rep) => runOurs(ctx, rep, undefined, dir)]),
    ["minimalSink", (rep) => runSink(ctx, rep)],
    ["copyCeiling", (rep) => runCeiling(ctx, rep, dumpDir)],
    ["consumeOnly", (rep) => runConsumeOnly(ctx, rep)],
    ...(flink.flink ? flinkConfigs.map((c) => [c.name, (rep) => runFlinkRep(ctx, flink.flink, c, rep)]) : [])
  ]
  // --contenders ours,minimalSink: only those (the ceiling needs ours, which dumps its rows).
  const only = options.contenders === undefined ? undefined : String(options.contenders).split(",")
  if (only?.includes("copyCeiling") && !only.includes("ours")) throw new Error("copyCeiling needs ours in --contenders")
  const chosen = only === undefined ? all : all.filter(([name]) => only.includes(name))
  for (let rep = 1; rep <= reps; rep++) {
    // Ours first in round 1 (the ceiling copies its rows); later rounds rotate the order.
    const order = chosen.map((_, i) => chosen[(i + rep - 1) % chosen.length])
    for (const [name, go] of order) {
      log(`throughput: round ${rep}/${reps}: ${name}`)
      const r = await go(rep)
      results[name].push(r)
      log(
        `throughput: ${name} ${r.ticksPerSecond} ticks/s durable (${r.durableSeconds} s), ` +
          `${r.cpuSecondsPerMillionTicks.total} CPU-s per M ticks, waited ${r.runQueueWaitSeconds} s for a CPU, ` +
          `${r.checks.ok ? "ok" : "CHECKS FAILED"}`
      )
    }
  }

  const summary = Object.fromEntries(
    Object.entries(results)
      .filter(([, rs]) => rs.length > 0)
      .map(([k, rs]) => [k, summarise(k, names[k], rs)])
  )
  const { ratios, target } = compare(summary)
  return {
    parameters: {
      ticks: n,
      symbols,
      eventTimeSpacingMsPerSymbol: spacing,
      partitions: 3,
      repetitions: reps,
      seed: seed.by,
      batchSize: passthrough.BATCH_SIZE ?? "default (100)",
      checkpointInterval: passthrough.CHECKPOINT_INTERVAL ?? "default (5 seconds)",
      sinkWrite,
      compareDist: options.compareDist,
      redis: redis.kind,
      peers: Boolean(options.peers),
      flink: flink.skipped ?? flink.build
    },
    figures: { seed, ceilingRows: dumped, contenders: summary },
    ratio: {
      ...ratios,
      definition:
        "ours ÷ each contender, medians: durableRate = ticks/s claim → all N durable (higher is better); " +
        "cpuPerMillionTicks = total CPU-seconds per million ticks (lower is better)"
    },
    target,
    correctness: correctness(summary)
  }
}
