// @ts-check
// Manual entry point for the Flink peer (bench/peers/README.md, "Flink"): a fresh topic filled with N ticks by our
// producer (as bench/scenarios/throughput.mjs fills it), then, per configuration, a fresh migrated database and one
// run of the job. Prints each run's result as JSON.
//   node bench/peers/flink-try.mjs --ticks 20000 --configs 1:60000,2:5000 [--symbols 50] [--repeat 2] [--ours]
//     [--fsync on|off] [--timeline] [--keep]
// --configs: parallelism:checkpointMs[:1], the 1 for the tick sink unchained (a thread of its own). --ours: our
// processor too, on the same topic and a fresh database, before each round. --fsync (default on, as bench/run.mjs):
// Postgres's fsync and full_page_writes for the run, reset after.
// --timeline: ticks in Postgres once a second. With --ours, each round also compares Flink's candles with ours
// (open, high, low, close, volume, tick_count, vwap per market, interval and bucket). Needs KAFKA_BROKERS,
// DATABASE_URL, REDIS_URL (scripts/services.sh up) and `npm run build`.
import { createWriteStream } from "node:fs"
import { rm } from "node:fs/promises"
import os from "node:os"
import { join } from "node:path"
import pg from "pg"
import { parseArgs } from "../../support/args.mjs"
import { createTopic, deleteTopics, endOffsets, kafka } from "../../support/kafka.mjs"
import { killStarted, procStat, startCli } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, servicesEnv, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { eventually } from "../../support/waiting.mjs"
import { buildFlink, runFlink } from "./flink.mjs"

const { options } = parseArgs(process.argv.slice(2))
const n = Number(options.ticks ?? 20_000)
const symbols = Number(options.symbols ?? 50)
const configs = String(options.configs ?? "1:60000")
  .split(",")
  .map((c) => c.split(":").map(Number))
const repeat = Number(options.repeat ?? 1)
const fsync = String(options.fsync ?? "on")
const env = servicesEnv()
const brokers = String(env.KAFKA_BROKERS)
const adminUrl = String(env.DATABASE_URL)

/** The throughput scenario's data: one tick per symbol per second of event time, ending a minute ago. */
const writeReplayFile = async (/** @type {string} */ file) => {
  const coins = benchSymbols(symbols)
  const t0 = Date.now() - 60_000 - Math.ceil(n / symbols) * 1000
  const prices = coins.map((c) => c.price)
  const stream = createWriteStream(file)
  for (let i = 0; i < n; i++) {
    const s = i % symbols
    const t = t0 + Math.floor(i / symbols) * 1000 + s
    prices[s] = round(prices[s] * Math.exp((Math.random() - 0.5) * 0.004), 6)
    const c = coins[s]
    const volume = round(0.5 + Math.random() * 3, 4)
    const line = `{"symbol":"${c.symbol}","coinId":"${c.coinId}","price":${prices[s]},"volume":${volume},"eventTime":${t}}\n`
    if (!stream.write(line)) await new Promise((r) => stream.once("drain", r))
  }
  stream.end()
  await new Promise((r, j) => stream.once("finish", r).once("error", j))
}

/** @type {Array<[string, () => unknown]>} */
const cleanups = []
const clean = { add: (/** @type {string} */ name, /** @type {() => unknown} */ f) => void cleanups.push([name, f]) }
const runCleanups = async () => {
  for (const [name, f] of cleanups.reverse()) await Promise.resolve(f()).catch((e) => log(`cleanup ${name}: ${e}`))
}

/** A fresh database, migrated with our schema. */
const freshDatabase = async () => {
  const dbName = unique("flink_try")
  const db = await createDatabase(adminUrl, dbName)
  if (!options.keep) clean.add(`database ${dbName}`, () => dropDatabase(adminUrl, dbName))
  const migrate = startCli("migrate", { DATABASE_URL: db })
  if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  return db
}

/** Our processor, as bench/scenarios/throughput.mjs measures it: partition claim → checkpoint of the topic's end. */
const runOurs = async (/** @type {string} */ topic, /** @type {string} */ db) => {
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  const proc = startCli("processor", {
    KAFKA_BROKERS: brokers,
    REDIS_URL: env.REDIS_URL,
    DATABASE_URL: db,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: unique("flink_try_ours")
  })
  clean.add("processor", () => proc.stop("SIGKILL"))
  let claimed = 0
  let claimedCpu = 0
  let done = 0
  let doneCpu = 0
  try {
    await eventually(
      async () => {
        if (!proc.alive()) throw new Error(`processor exited:\n${proc.output().slice(-3000)}`)
        const sql = "SELECT next_offset::bigint AS o FROM processor_checkpoints WHERE topic = $1"
        const rows = (await client.query(sql, [topic])).rows
        if (rows.length === 0) return undefined
        if (claimed === 0) [claimed, claimedCpu] = [Date.now(), procStat(proc.pid)?.cpu ?? 0]
        if (rows.length < 3 || rows.reduce((a, r) => a + Number(r.o), 0) < n) return undefined
        ;[done, doneCpu] = [Date.now(), procStat(proc.pid)?.cpu ?? 0]
        return true
      },
      Math.max(300_000, n * 5),
      "our processor to checkpoint the topic's end",
      50
    )
  } finally {
    await client.end()
  }
  await proc.stop("SIGTERM")
  const seconds = (done - claimed) / 1000
  const cpu = doneCpu - claimedCpu
  return {
    peer: "ours",
    seconds: round(seconds, 3),
    ticksPerSecond: Math.round(n / seconds),
    cpuSeconds: { node: round(cpu, 2) },
    cpuSecondsPerMillionTicks: { node: round((cpu * 1e6) / n, 1) }
  }
}

/** Candles of two databases that differ (relative 1e-9 on the sums) or are missing from either. */
const compareCandles = async (/** @type {string} */ oursDb, /** @type {string} */ flinkDb) => {
  const sql = `SELECT market || '|' || interval || '|' || extract(epoch FROM bucket_start)::bigint AS k,
    open, high, low, close, volume, tick_count, vwap FROM candles`
  const [a, b] = await Promise.all([query(oursDb, sql), query(flinkDb, sql)])
  const theirs = new Map(b.map((r) => [r.k, r]))
  const near = (/** @type {number} */ x, /** @type {number} */ y) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x))
  const fields = ["open", "high", "low", "close", "volume", "tick_count", "vwap"]
  const differ = a.filter((r) => {
    const t = theirs.get(r.k)
    return t === undefined || fields.some((f) => !near(Number(r[f]), Number(t[f])))
  })
  return { ours: a.length, flink: b.length, differ: differ.length, example: differ[0] ?? null }
}

const setDurability = async (/** @type {string | undefined} */ value) => {
  const sql =
    value === undefined
      ? ["ALTER SYSTEM RESET fsync", "ALTER SYSTEM RESET full_page_writes"]
      : [`ALTER SYSTEM SET fsync = ${value}`, `ALTER SYSTEM SET full_page_writes = ${value}`]
  for (const q of [...sql, "SELECT pg_reload_conf()"]) await query(adminUrl, q)
}

try {
  await setDurability(fsync)
  clean.add("fsync", () => setDurability(undefined))
  const build = await buildFlink({ log })
  log(`flink: ${JSON.stringify(build)}`)
  const topic = unique("flink_try")
  const file = join(os.tmpdir(), `${topic}.ndjson`)
  await createTopic(brokers, topic, 3)
  if (!options.keep) clean.add("topic", () => deleteTopics(brokers, [topic, `${topic}.dlq`]))
  clean.add("file", () => rm(file, { force: true }))
  await writeReplayFile(file)
  const producer = startCli("producer", {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    SOURCE: `replay:${file}`,
    REPLAY_SPEED: "max"
  })
  const admin = kafka(brokers).admin()
  await admin.connect()
  await eventually(
    async () => [...(await endOffsets(admin, topic)).values()].reduce((a, b) => a + b, 0) >= n || undefined,
    Math.max(120_000, n * 2),
    "the producer to publish every tick",
    200
  )
  await admin.disconnect()
  await producer.stop("SIGTERM")
  log(`flink-try: ${n} ticks on ${topic}`)
  for (let round_ = 1; round_ <= repeat; round_++) {
    /** @type {string | undefined} */
    let oursDb
    if (options.ours) {
      oursDb = await freshDatabase()
      const ours = await runOurs(topic, oursDb)
      log(`ours: ${ours.ticksPerSecond} ticks/s`)
      process.stdout.write(`${JSON.stringify({ round: round_, ticks: n, fsync, ...ours })}\n`)
    }
    for (const [parallelism, checkpointMs, unchained] of configs) {
      const db = await freshDatabase()
      const result = await runFlink({
        brokers,
        topic,
        databaseUrl: db,
        expectedTicks: n,
        parallelism,
        checkpointMs,
        log,
        clean,
        jar: build.jar,
        timeline: Boolean(options.timeline),
        unchainSinks: unchained === 1
      })
      const sameCandles = oursDb === undefined ? undefined : await compareCandles(oursDb, db)
      process.stdout.write(
        `${JSON.stringify({ round: round_, ticks: n, fsync, peer: "flink", sameCandles, ...result })}\n`
      )
    }
  }
} finally {
  killStarted()
  await runCleanups()
}
