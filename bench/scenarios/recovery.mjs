// recovery: SIGKILL the real `processor` while this process publishes ~5,000 ticks/s (50 symbols) to its topic, start
// a new one at once, and time: the claim of the partitions (the killed member's session must expire first),
// the first checkpoint of the new process (resumed), and the moment its checkpointed lag is back to what it was
// before the kill (caught up). Afterwards Postgres is checked against the topic: lost and double-counted ticks.
// Baseline, same run, its own topic, same publisher: a bare kafkajs consumer with auto-commit (at-least-once) in the
// same consumer-group settings, killed and restarted the same way; its redeliveries show what the checkpoints save.
import { createTopic, deleteTopics, endOffsets, kafka, producer } from "../../support/kafka.mjs"
import { jsonLines, lineReader } from "../../support/lines.mjs"
import { cpuMeter, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { ratio, round } from "../../support/statistics.mjs"
import { benchSymbols, publishAtRate } from "../../support/ticks.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"

export const describe =
  "SIGKILL the processor at ~5k ticks/s: time to resume and catch up, lost/double-counted, vs a bare auto-commit consumer"

const median = (xs) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)])

/** Samples the topic's end offsets every 250 ms while `active()`. */
const endSampler = async (env, topic) => {
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  let latest = new Map()
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      try {
        latest = await endOffsets(admin, topic)
      } catch {
        // a slow broker answer: keep the previous sample
      }
      await sleep(250)
    }
  })()
  return {
    total: () => [...latest.values()].reduce((a, b) => a + b, 0),
    fresh: async () => [...(await endOffsets(admin, topic)).values()].reduce((a, b) => a + b, 0),
    stop: async () => {
      stopped = true
      await loop
      await admin.disconnect()
    }
  }
}

const timeline = () => {
  const points = []
  return {
    points,
    add: (p) => points.push(p),
    /** Pre-kill steady lag: the median over the 5 s before the kill (after the first 3 s of publishing). */
    steadyLag: (from, to) => median(points.filter((p) => p.t >= from && p.t < to).map((p) => p.lag))
  }
}

const phaseTimes = ({ kill, claimed, resumed, points, threshold, publishEnd, drained }) => {
  const caught = resumed === undefined ? undefined : points.find((p) => p.t >= resumed && p.lag <= threshold)
  const s = (t) => (t === undefined ? null : round((t - kill) / 1000, 2))
  return {
    claimedAfterKillSeconds: s(claimed),
    resumedAfterKillSeconds: s(resumed),
    caughtUpAfterKillSeconds: caught ? s(caught.t) : null,
    caughtUpWhilePublishing: caught ? caught.t <= publishEnd : false,
    drainedAfterPublishEndSeconds: drained === undefined ? null : round((drained - publishEnd) / 1000, 2),
    maxLagAfterKill: Math.max(0, ...points.filter((p) => p.t >= kill).map((p) => p.lag)),
    caughtUpThreshold: threshold
  }
}

const runProcessor = async ({
  env,
  redis,
  clean,
  profileDir,
  rate,
  seconds,
  killAt,
  coins,
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
        KAFKA_GROUP_ID: group
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
    if (kill === undefined && t - t0 >= killAt * 1000) {
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
  let missingBySymbol = 0
  for (const [s, n] of sentPerSymbol) missingBySymbol += Math.max(0, n - (perSymbol.get(s) ?? 0))
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const dlq = [...(await endOffsets(admin, `${topic}.dlq`).catch(() => new Map())).values()].reduce((a, b) => a + b, 0)
  await admin.disconnect()
  const stopped = await second.stop("SIGTERM")
  return {
    published,
    topicRecords,
    killedAtSeconds: round((kill - t0) / 1000, 2),
    lagAtKill,
    steadyLagBeforeKill,
    firstProcessorCpuPercent: killCpu?.cpuPercent ?? null,
    processingAfterKillSeconds: processing === undefined ? null : round((processing - kill) / 1000, 2),
    ...times,
    checks: {
      ticksInPostgres: ticks.n,
      // Only meaningful once the processor drained the topic; before that, "missing" is just "not processed yet".
      drained: drained !== undefined,
      lost: drained === undefined ? null : Math.max(0, topicRecords - ticks.n),
      lostBySymbol: drained === undefined ? null : missingBySymbol,
      notYetProcessed: drained === undefined ? Math.max(0, topicRecords - ticks.n) : 0,
      extraRows: Math.max(0, ticks.n - topicRecords),
      candleTickCounts: Object.fromEntries(candleCounts.map((c) => [c.interval, Number(c.n)])),
      doubleCounted: candleCounts.reduce((worst, c) => Math.max(worst, Number(c.n) - ticks.n), 0),
      dlqRecords: dlq
    },
    newProcessorExit: stopped,
    lagTimeline: tl.points.filter((_, i) => i % 10 === 0).map((p) => [round((p.t - kill) / 1000, 1), p.lag])
  }
}

const runBaseline = async ({ env, clean, rate, seconds, killAt, coins, restartDelay }) => {
  const topic = unique("bench_recbase")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("baseline topic", () => deleteTopics(env.KAFKA_BROKERS, [topic]))
  const group = unique("bench_recbase")
  // delivered[p][offset] = times delivered, across both consumers.
  const delivered = new Map([0, 1, 2].map((p) => [p, new Uint8Array(Math.ceil(rate * seconds * 1.2) + 10_000)]))
  const position = new Map()
  const starts = []
  const start = (name) => {
    const p = startNodeScript(
      "baseline-consumer.mjs",
      ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", group, "--mode", "follow"],
      { name }
    )
    clean.add(name, () => p.stop("SIGKILL"))
    const marks = { joined: undefined, first: undefined }
    jsonLines(p, (m) => {
      if (m.ev === "joined") marks.joined ??= m.t
      if (m.ev === "batch") {
        marks.first ??= m.t
        const d = delivered.get(m.p)
        for (let o = m.first; o <= m.last; o++) if (o < d.length) d[o] = Math.min(255, d[o] + 1)
        position.set(m.p, Math.max(position.get(m.p) ?? 0, m.last + 1))
      }
    })
    starts.push(marks)
    return { p, marks }
  }
  const first = start("recovery-baseline-1")
  await lineReader(first.p).next((m) => m.ev === "joined", 60_000, "baseline join")
  const ends = await endSampler(env, topic)
  const prod = await producer(env.KAFKA_BROKERS)
  clean.add("baseline publisher", () => prod.disconnect())
  const t0 = Date.now()
  const publishing = publishAtRate(prod, topic, coins, rate, seconds)
  let publishEnd
  void publishing.then(() => (publishEnd = Date.now()))
  const tl = timeline()
  let kill
  let second
  let drained
  const consumed = () => [...position.values()].reduce((a, b) => a + b, 0)
  const deadline = t0 + (seconds + 240) * 1000
  while (Date.now() < deadline) {
    const t = Date.now()
    tl.add({ t, lag: Math.max(0, ends.total() - consumed()) })
    if (kill === undefined && t - t0 >= killAt * 1000) {
      first.p.child.kill("SIGKILL")
      kill = Date.now()
      log(`recovery: baseline consumer SIGKILLed at ${round((kill - t0) / 1000, 1)} s`)
      if (restartDelay > 0) await sleep(restartDelay * 1000)
      second = start("recovery-baseline-2")
      continue
    }
    if (publishEnd !== undefined && second?.marks.first !== undefined && consumed() >= (await ends.fresh())) {
      drained = Date.now()
      break
    }
    await sleep(100)
  }
  const published = await publishing
  const topicRecords = await ends.fresh()
  await ends.stop()
  const threshold = Math.max(Math.round(1.5 * tl.steadyLag(kill - 5000, kill)), rate)
  // The bare consumer has no checkpoint: "resumed" is its first batch after the restart.
  const times = phaseTimes({
    kill,
    claimed: second.marks.joined,
    resumed: second.marks.first,
    points: tl.points,
    threshold,
    publishEnd,
    drained
  })
  let lost = 0
  let redelivered = 0
  const endsNow = position
  for (const [p, d] of delivered) {
    const end = endsNow.get(p) ?? 0
    for (let o = 0; o < end && o < d.length; o++) {
      if (d[o] === 0) lost++
      else if (d[o] > 1) redelivered += d[o] - 1
    }
  }
  await second.p.stop("SIGTERM")
  return {
    published,
    topicRecords,
    killedAtSeconds: round((kill - t0) / 1000, 2),
    steadyLagBeforeKill: tl.steadyLag(kill - 5000, kill),
    ...times,
    checks: {
      lost,
      redelivered,
      note: "auto-commit: redelivered records would be counted twice by a consumer that aggregates without checkpoints"
    }
  }
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const rate = Number(options.rate)
  const seconds = Number(options.seconds)
  const killAt = Number(options.killAt)
  const restartDelay = Number(options.restartDelay ?? 0)
  const coins = benchSymbols(Number(options.symbols ?? 50), "R")
  log(`recovery: processor, ${rate}/s for ${seconds} s, SIGKILL at ${killAt} s`)
  const drainTimeout = Number(options.drainTimeout ?? 600)
  const pipeline = await runProcessor({
    env,
    redis,
    clean,
    profileDir,
    rate,
    seconds,
    killAt,
    coins,
    restartDelay,
    drainTimeout
  })
  log(`recovery: baseline consumer, ${rate}/s for ${seconds} s, SIGKILL at ${killAt} s`)
  const baseline = await runBaseline({ env, clean, rate, seconds, killAt, coins, restartDelay })
  return {
    parameters: {
      rate,
      seconds,
      killAt,
      restartDelay,
      drainTimeout,
      symbols: coins.length,
      partitions: 3,
      sessionTimeoutMs: 10_000,
      redis: redis.kind,
      caughtUp:
        "checkpointed lag (topic end − checkpointed offsets) back under max(1.5 × its median over the 5 s " +
        "before the kill, one second of input)"
    },
    figures: { processor: pipeline, baseline },
    ratio: {
      resumed: ratio(pipeline.resumedAfterKillSeconds, baseline.resumedAfterKillSeconds),
      caughtUp: ratio(pipeline.caughtUpAfterKillSeconds, baseline.caughtUpAfterKillSeconds),
      definition: "processor seconds ÷ baseline seconds after the kill (lower is better)"
    },
    target: {
      lostAndDoubleCounted: 0,
      met: pipeline.checks.lost === 0 && pipeline.checks.doubleCounted === 0 && pipeline.checks.lostBySymbol === 0
    },
    correctness: [
      {
        check: "no tick lost (Postgres against the topic and against what was sent)",
        ok: pipeline.checks.lost === 0 && pipeline.checks.lostBySymbol === 0
      },
      {
        check: "no tick counted twice (candle tick counts = ticks)",
        ok: pipeline.checks.doubleCounted === 0 && pipeline.checks.extraRows === 0
      },
      { check: "nothing in the DLQ", ok: pipeline.checks.dlqRecords === 0 },
      {
        check: `the processor drained the topic within --drain-timeout ${drainTimeout} s after publishing (else loss cannot be judged)`,
        ok: pipeline.drainedAfterPublishEndSeconds !== null
      }
    ]
  }
}
