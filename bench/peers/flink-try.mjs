// @ts-check
// Manual entry point for the Flink peer (bench/peers/README.md, "Flink"): a fresh topic filled with N ticks by our
// producer (as bench/scenarios/throughput.mjs fills it), then, per configuration, a fresh migrated database and one
// run of the job. Prints each run's result as JSON.
//   node bench/peers/flink-try.mjs --ticks 20000 --configs 1:60000,2:5000 [--symbols 50] [--keep]
// Needs KAFKA_BROKERS and DATABASE_URL (scripts/services.sh up) and `npm run build`.
import { createWriteStream } from "node:fs"
import { rm } from "node:fs/promises"
import os from "node:os"
import { join } from "node:path"
import { parseArgs } from "../../support/args.mjs"
import { createTopic, deleteTopics, endOffsets, kafka } from "../../support/kafka.mjs"
import { killStarted, startCli } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, servicesEnv, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { eventually } from "../../support/waiting.mjs"
import { buildFlink, runFlink } from "./flink.mjs"

const { options } = parseArgs(process.argv.slice(2))
const n = Number(options.ticks ?? 20_000)
const symbols = Number(options.symbols ?? 50)
const configs = String(options.configs ?? "1:60000").split(",").map((c) => c.split(":").map(Number))
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
    const line = `{"symbol":"${c.symbol}","coinId":"${c.coinId}","price":${prices[s]},"volume":${round(0.5 + Math.random() * 3, 4)},"eventTime":${t}}\n`
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

try {
  const build = await buildFlink({ log })
  log(`flink: ${JSON.stringify(build)}`)
  const topic = unique("flink_try")
  const file = join(os.tmpdir(), `${topic}.ndjson`)
  await createTopic(brokers, topic, 3)
  if (!options.keep) clean.add("topic", () => deleteTopics(brokers, [topic, `${topic}.dlq`]))
  clean.add("file", () => rm(file, { force: true }))
  await writeReplayFile(file)
  const producer = startCli("producer", { KAFKA_BROKERS: brokers, KAFKA_TOPIC: topic, SOURCE: `replay:${file}`, REPLAY_SPEED: "max" })
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
  for (const [parallelism, checkpointMs] of configs) {
    const dbName = unique("flink_try")
    const db = await createDatabase(adminUrl, dbName)
    if (!options.keep) clean.add(`database ${dbName}`, () => dropDatabase(adminUrl, dbName))
    const migrate = startCli("migrate", { DATABASE_URL: db })
    if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
    const result = await runFlink({ brokers, topic, databaseUrl: db, expectedTicks: n, parallelism, checkpointMs, log, clean, jar: build.jar })
    process.stdout.write(`${JSON.stringify({ ticks: n, ...result })}\n`)
  }
} finally {
  killStarted()
  await runCleanups()
}
