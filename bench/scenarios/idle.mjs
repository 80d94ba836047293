// idle: the resident memory of `node dist/main.js service` once it is idle (issue #17: under 300 MB). Variants, each
// its own process: `embedded` (the `npm start` default: embedded bus on disk in a fresh DATA_DIR, PGlite, in-memory
// cache, HISTORY on, so a day of simulator ticks is published and stored first), `restart` (the same DATA_DIR started
// again: no initdb, no history), `no-history` (fresh DATA_DIR, HISTORY=0) and `services` (Kafka, Postgres and Redis,
// a fresh topic and database, HISTORY on). "Idle" is after the history is stored (/ready carries no `history` and
// ticks were processed): the simulator's live ticks still flow, as they do for a user who just ran `npm start`.
// RSS is sampled from /proc every second; the heap, external memory and array buffers by a preloaded sampler
// (bench/lib/idle-mem.mjs); PGlite's WebAssembly memory from /metrics (embedded_postgres_wasm_memory_bytes).
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createTopic, deleteTopics } from "../../support/kafka.mjs"
import { benchDir } from "../../support/paths.mjs"
import { freePort, procStat, startCli } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"

export const describe =
  "idle RSS of `service`: embedded defaults (a day of history), restarted, HISTORY=0, real services"

const MiB = 2 ** 20
const median = (xs) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)])
const mib = (x) => (x === null || x === undefined ? null : round(x / MiB, 1))

const metric = (text, name) => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)
  return m ? Number(m[1]) : null
}

/** Starts `service`, waits until the history is stored, idles `seconds`, and reports the memory it holds. */
const measure = async ({ name, env, seconds, clean, loadTimeout }) => {
  const port = await freePort()
  const memFile = join(tmpdir(), `${unique("idle_mem")}.jsonl`)
  clean.add(`${name} samples`, () => rmSync(memFile, { force: true }))
  const preload = join(benchDir, "lib", "idle-mem.mjs")
  const t0 = Date.now()
  const proc = startCli(
    "service",
    {
      ...env,
      PORT: String(port),
      IDLE_MEM_FILE: memFile,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${preload}`.trim()
    },
    { name: `idle-${name}` }
  )
  clean.add(`idle-${name}`, () => proc.stop("SIGKILL"))
  const url = `http://127.0.0.1:${port}`
  let loadPeak = 0
  let sawHistory = false
  const stored = await eventually(
    async () => {
      if (!proc.alive()) throw new Error(`service exited:\n${proc.output().slice(-3000)}`)
      loadPeak = Math.max(loadPeak, procStat(proc.pid)?.rss ?? 0)
      const ready = await (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(10_000) })).json()
      if (ready.history !== undefined) sawHistory = true
      if (ready.status !== "ready" || ready.history !== undefined) return undefined
      const processed = metric(await (await fetch(`${url}/metrics`)).text(), "ticks_processed_total")
      return processed !== null && processed > 0 ? { processed } : undefined
    },
    loadTimeout * 1000,
    `${name}: the service ready with its history stored`,
    500
  )
  const loadSeconds = round((Date.now() - t0) / 1000, 1)
  log(`idle ${name}: history stored after ${loadSeconds} s (${stored.processed} ticks); idling ${seconds} s`)
  const idleFrom = Date.now()
  const rss = []
  while (Date.now() - idleFrom < seconds * 1000) {
    rss.push(procStat(proc.pid)?.rss ?? 0)
    await sleep(1000)
  }
  const text = await (await fetch(`${url}/metrics`)).text()
  const samples = readFileSync(memFile, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l))
    .filter((s) => s.pid === proc.pid && s.t >= idleFrom)
  const field = (k) => mib(median(samples.map((s) => s[k])))
  const stopped = await proc.stop("SIGTERM")
  const result = {
    loadSeconds,
    sawHistory,
    ticksProcessedWhenStored: stored.processed,
    peakRssWhileLoadingMiB: mib(loadPeak),
    idle: {
      seconds,
      rssMiB: { first: mib(rss[0]), median: mib(median(rss)), max: mib(Math.max(...rss)), last: mib(rss.at(-1)) },
      heapUsedMiB: field("heapUsed"),
      heapTotalMiB: field("heapTotal"),
      externalMiB: field("external"),
      arrayBuffersMiB: field("arrayBuffers"),
      pgliteWasmMemoryMiB: mib(metric(text, "embedded_postgres_wasm_memory_bytes"))
    },
    exit: stopped
  }
  log(`idle ${name}: ${JSON.stringify(result.idle)}`)
  return result
}

export const run = async ({ options, env, redis, clean }) => {
  const seconds = Number(options.seconds ?? 30)
  const loadTimeout = Number(options.loadTimeout ?? 300)
  const variants = String(options.variants ?? "embedded,restart,no-history,services").split(",")
  const root = mkdtempSync(join(tmpdir(), "bench-idle-"))
  clean.add("idle data dirs", () => rmSync(root, { recursive: true, force: true }))
  const embeddedEnv = (dir, history) => ({ DATA_DIR: join(root, dir), HISTORY: history })
  const figures = {}
  for (const v of variants) {
    if (v === "embedded" || v === "restart") {
      figures[v] = await measure({ name: v, env: embeddedEnv("embedded", "1"), seconds, clean, loadTimeout })
    } else if (v === "no-history") {
      figures[v] = await measure({ name: v, env: embeddedEnv("no-history", "0"), seconds, clean, loadTimeout })
    } else if (v === "services") {
      const topic = unique("bench_idle")
      await createTopic(env.KAFKA_BROKERS, topic, 3)
      clean.add("idle topic", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
      const dbName = unique("bench_idle")
      const db = await createDatabase(env.DATABASE_URL, dbName)
      clean.add("idle database", () => dropDatabase(env.DATABASE_URL, dbName))
      const migrate = startCli("migrate", { DATABASE_URL: db })
      if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
      const services = { KAFKA_BROKERS: env.KAFKA_BROKERS, REDIS_URL: redis.url, DATABASE_URL: db }
      const ids = { KAFKA_TOPIC: topic, KAFKA_GROUP_ID: topic, HISTORY: "1" }
      figures[v] = await measure({ name: v, env: { ...services, ...ids }, seconds, clean, loadTimeout })
    } else throw new Error(`unknown --variants entry ${v} (embedded, restart, no-history, services)`)
  }
  const headline = figures.embedded ?? figures[variants[0]]
  const idleRss = headline.idle.rssMiB.median
  return {
    parameters: { seconds, variants, dataDir: "fresh, under the OS temp dir", coins: "the default (COINS unset)" },
    figures,
    target: { idleRssMiB: 300, measured: idleRss, of: figures.embedded ? "embedded" : variants[0], met: idleRss < 300 },
    correctness: variants
      .filter((v) => v === "embedded" || v === "services")
      // A day at a tick per coin every 30 s is 2,880 ticks a coin (/ready's `history` may be missed by a slow poll).
      .map((v) => ({
        check: `${v}: the day of history was loaded and stored (≥ 2,880 ticks processed)`,
        ok: figures[v].ticksProcessedWhenStored >= 2880
      }))
  }
}
