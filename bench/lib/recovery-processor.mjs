// recovery (bench/scenarios/recovery.mjs): one run of the real `processor`: SIGKILLed at `killAt` s + `killDelay` ms
// while ticks are published, a new one started at once; timed from Postgres's checkpoints, checked against the topic.
import { createTopic, deleteTopics, endOffsets, kafka, producer, readTopic } from "../../support/kafka.mjs"
import { cpuMeter, startCli } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { publishAtRate } from "../../support/ticks.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import { endSampler, phaseTimes, timeline } from "./recovery-common.mjs"

/** The topic's ticks, distinct by symbol and event time, per symbol. */
const distinctTicks = async (env, topic) => {
  const records = await readTopic(env.KAFKA_BROKERS, topic)
  const seen = new Set()
  const perSymbol = new Map()
  for (const r of records) {
    const m = /"symbol":"([^"]+)".*"eventTime":(\d+)/.exec(r.value)
    const id = m ? `${m[1]}/${m[2]}` : r.value
    if (seen.has(id)) continue
    seen.add(id)
    const symbol = m?.[1] ?? "?"
    perSymbol.set(symbol, (perSymbol.get(symbol) ?? 0) + 1)
  }
  return { perSymbol, total: seen.size, duplicates: records.length - seen.size }
}

export const runProcessor = async ({
  env,
  redis,
  clean,
  profileDir,
  rate,
  seconds,
  killAt,
  coins,
  killDelay,
  checkpointInterval,
  restartDelay,
  drainTimeout
}) => {
  const topic = unique("bench_rec")
  const dbName = unique("bench_rec")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  const migrate = startCli("migrate", { DATABASE_URL: db })
  if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  const group = unique("bench_rec")
  const start = (name, profile) => {
    const p = startCli(
      "processor",
      {
        KAFKA_BROKERS: env.KAFKA_BROKERS,
        REDIS_URL: redis.url,
        DATABASE_URL: db,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: group,
        CHECKPOINT_INTERVAL: `${checkpointInterval} seconds`
      },
      { name, cpuProfileDir: profile }
    )
    clean.add(name, () => p.stop("SIGKILL"))
    return p
  }
  const pg = new (await import("pg")).default.Client({ connectionString: db })
  await pg.connect()
  clean.add("pg client", () => pg.end())
  const checkpoint = async () => {
    const rows = (
      await pg.query("SELECT partition, owner, next_offset::bigint AS o FROM processor_checkpoints WHERE topic = $1", [
        topic
      ])
    ).rows
    return { rows, sum: rows.reduce((a, r) => a + Number(r.o), 0) }
  }
  // The cache shows processing before a checkpoint does: the new processor rewrites latest:* as soon as it handles a batch.
  const { Redis } = await import("ioredis")
  const cache = new Redis(redis.url)
  clean.add("cache reader", async () => cache.disconnect())
  const latestKeys = coins.map((c) => `latest:simulator:${c.symbol}-USD`)
  const first = start("recovery-processor-1")
  await eventually(
    async () => ((await checkpoint()).rows.length === 3 ? true : undefined),
    60_000,
    "the first processor's claim",
    100
  )
  const ends = await endSampler(env, topic)
  const prod = await producer(env.KAFKA_BROKERS)
  clean.add("publisher", () => prod.disconnect())
  const sentPerSymbol = new Map()
  const t0 = Date.now()
  const publishing = publishAtRate(prod, topic, coins, rate, seconds, {
    onTick: (s) => sentPerSymbol.set(s, (sentPerSymbol.get(s) ?? 0) + 1)
  })
  let publishEnd
  void publishing.then(() => (publishEnd = Date.now()))

  const tl = timeline()
  let kill
  let second
  let claimed
  let resumed
  let processing
  let cacheAtClaim
  let sumAtClaim
  let drained
  let killCpu
  const firstCpu = cpuMeter(first.pid)
  firstCpu.start()
  const deadline = t0 + (seconds + drainTimeout) * 1000
  while (Date.now() < deadline) {
    const t = Date.now()
    const cp = await checkpoint()
    const lag = Math.max(0, ends.total() - cp.sum)
    tl.add({ t, lag, checkpointed: cp.sum })
    if (kill === undefined && t - t0 >= killAt * 1000 + killDelay) {
      killCpu = firstCpu.stop()
      first.child.kill("SIGKILL")
      kill = Date.now()
      log(`recovery: processor SIGKILLed at ${round((kill - t0) / 1000, 1)} s, lag ${lag}`)
      if (restartDelay > 0) await sleep(restartDelay * 1000)
      second = start("recovery-processor-2", profileDir)
      continue
    }
    if (
      second !== undefined &&
      claimed === undefined &&
      cp.rows.length === 3 &&
      cp.rows.every((r) => r.owner.endsWith(`/${second.pid}`))
    ) {
      claimed = t
      sumAtClaim = cp.sum
      cacheAtClaim = JSON.stringify(await cache.mget(...latestKeys))
      log(`recovery: partitions claimed by the new processor ${round((claimed - kill) / 1000, 2)} s after the kill`)
    }
    if (
      claimed !== undefined &&
      processing === undefined &&
      JSON.stringify(await cache.mget(...latestKeys)) !== cacheAtClaim
    ) {
      processing = t
      log(
        `recovery: the new processor is processing (cache updated) ${round((processing - kill) / 1000, 2)} s after the kill`
      )
    }
    if (claimed !== undefined && resumed === undefined && cp.sum > sumAtClaim) {
      resumed = t
      log(`recovery: first checkpoint of the new processor ${round((resumed - kill) / 1000, 2)} s after the kill`)
    }
    if (publishEnd !== undefined && resumed !== undefined && cp.sum >= (await ends.fresh())) {
      drained = Date.now()
      break
    }
    if (second !== undefined && !second.alive())
      throw new Error(`the new processor exited:\n${second.output().slice(-3000)}`)
    await sleep(100)
  }
  const published = await publishing
  const threshold = Math.max(Math.round(1.5 * tl.steadyLag(kill - 5000, kill)), rate)
  const times = phaseTimes({ kill, claimed, resumed, points: tl.points, threshold, publishEnd, drained })
  const steadyLagBeforeKill = tl.steadyLag(kill - 5000, kill)
  const lagAtKill = tl.points.filter((p) => p.t <= kill).at(-1)?.lag

  // Postgres against the topic.
  const topicRecords = await ends.fresh()
  await ends.stop()
  const [ticks] = await query(db, "SELECT count(*)::int AS n FROM ticks")
  const perSymbol = new Map(
    (await query(db, "SELECT symbol, count(*)::int AS n FROM ticks GROUP BY symbol")).map((r) => [r.symbol, r.n])
  )
  const candleCounts = await query(
    db,
    "SELECT interval, sum(tick_count)::bigint AS n FROM candles GROUP BY interval ORDER BY interval"
  )
  // What Postgres must hold: every tick sent, while every send was acknowledged. A send the publisher saw fail (an
  // overloaded broker) may be in the topic or not, and a retried one twice: then the topic's distinct ticks are the
  // reference, read back (ticks are distinct by symbol and event time: support/ticks.mjs).
  const expected =
    published.failed === 0 ? { perSymbol: sentPerSymbol, total: topicRecords } : await distinctTicks(env, topic)
  let missingBySymbol = 0
  for (const [s, n] of expected.perSymbol) missingBySymbol += Math.max(0, n - (perSymbol.get(s) ?? 0))
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const dlq = [...(await endOffsets(admin, `${topic}.dlq`).catch(() => new Map())).values()].reduce((a, b) => a + b, 0)
  await admin.disconnect()
  const stopped = await second.stop("SIGTERM")
  return {
    published,
    topicRecords,
    killedAtSeconds: round((kill - t0) / 1000, 2),
    killDelayMs: killDelay,
    lagAtKill,
    steadyLagBeforeKill,
    firstProcessorCpuPercent: killCpu?.cpuPercent ?? null,
    processingAfterKillSeconds: processing === undefined ? null : round((processing - kill) / 1000, 2),
    ...times,
    checks: {
      ticksInPostgres: ticks.n,
      // Only meaningful once the processor drained the topic; before that, "missing" is just "not processed yet".
      drained: drained !== undefined,
      lost: drained === undefined ? null : Math.max(0, expected.total - ticks.n),
      reference:
        published.failed === 0 ? "sent (every send acknowledged)" : "the topic's distinct ticks (sends failed)",
      topicDuplicates: expected.duplicates ?? 0,
      lostBySymbol: drained === undefined ? null : missingBySymbol,
      notYetProcessed: drained === undefined ? Math.max(0, topicRecords - ticks.n) : 0,
      extraRows: Math.max(0, ticks.n - expected.total),
      candleTickCounts: Object.fromEntries(candleCounts.map((c) => [c.interval, Number(c.n)])),
      doubleCounted: candleCounts.reduce((worst, c) => Math.max(worst, Number(c.n) - ticks.n), 0),
      dlqRecords: dlq
    },
    newProcessorExit: stopped,
    lagTimeline: tl.points.filter((_, i) => i % 10 === 0).map((p) => [round((p.t - kill) / 1000, 1), p.lag])
  }
}
