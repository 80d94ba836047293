// The soak (not in CI): `npm run soak -- --minutes 60 [--rate 1000] [--seed n] [--fault-every 60] [--hang 20]`.
// The real processor and api on real Kafka, Redis and Postgres, fed --rate ticks/s by this process, with a random
// fault every --fault-every seconds: kill, stop or hang (SIGSTOP) of Kafka, Redis, Postgres and the processor.
// Every 5 s: lag (topic end − checkpointed offsets), RSS and heap of the processor and api. At the end: the
// invariants against the topic (bench/lib/soak-check.mjs), the RSS and heap slopes, and bench/results/soak-<n>m.json.
// Services: its own, always (scripts/services.sh on soak ports with its own SERVICES_DIR and owner token), since it
// kills them. Exit 1 when an invariant fails.
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "../support/args.mjs"
import { createTopic, deleteTopics, endOffsets, kafka, producer } from "../support/kafka.mjs"
import { machine } from "../support/machine.mjs"
import { benchDir, repoRoot, resultsDir } from "../support/paths.mjs"
import { freePort, procStat, startCli } from "../support/processes.mjs"
import { mulberry32 } from "../support/random.mjs"
import { log } from "../support/results.mjs"
import { cleanup, createDatabase, dropDatabase, query, unique } from "../support/services.mjs"
import { round } from "../support/statistics.mjs"
import { benchSymbols, publishAtRate } from "../support/ticks.mjs"
import { eventually, sleep } from "../support/waiting.mjs"
import { checkInvariants } from "./lib/soak-check.mjs"
import { allServicesUp, faultKinds } from "./lib/soak-faults.mjs"

const options = parseArgs(process.argv.slice(2)).options
const minutes = Number(options.minutes ?? 60)
const rate = Number(options.rate ?? 1000)
const faultEvery = Number(options.faultEvery ?? 60)
const hangSeconds = Number(options.hang ?? 20)
const seed = Number(options.seed ?? Date.now() % 2 ** 31)
const symbols = Number(options.symbols ?? 20)
log(
  `soak: ${minutes} min at ${rate} ticks/s, a fault every ${faultEvery} s, seed ${seed} (--seed ${seed} replays the order)`
)

// == its own services (see scripts/test.sh): they get killed
const kafkaPort = Number(process.env.KAFKA_PORT ?? 28092)
Object.assign(process.env, {
  KAFKA_PORT: String(kafkaPort),
  KAFKA_CONTROLLER_PORT: process.env.KAFKA_CONTROLLER_PORT ?? String(kafkaPort + 1),
  REDIS_PORT: process.env.REDIS_PORT ?? "28379",
  PG_PORT: process.env.PG_PORT ?? "28432",
  SERVICES_DIR: process.env.SOAK_SERVICES_DIR ?? join(repoRoot, ".services", `soak-${kafkaPort}`),
  SERVICES_OWNER: `soak-${process.pid}-${Date.now()}`,
  SERVICES_OWNED_ONLY: "1"
})
for (const k of ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"]) delete process.env[k]
execFileSync("mkdir", ["-p", process.env.SERVICES_DIR])
writeFileSync(join(process.env.SERVICES_DIR, "owner"), `${process.env.SERVICES_OWNER}\n`)
const exports = execFileSync("bash", ["scripts/services.sh", "up"], { cwd: repoRoot, encoding: "utf8" })
for (const m of exports.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2]
const env = {
  KAFKA_BROKERS: process.env.KAFKA_BROKERS,
  REDIS_URL: process.env.REDIS_URL,
  DATABASE_URL: process.env.DATABASE_URL
}
const clean = cleanup()
clean.add("services", () => execFileSync("bash", ["scripts/services.sh", "down"], { cwd: repoRoot, stdio: "inherit" }))

let exitCode = 1
try {
  exitCode = await soak()
} catch (e) {
  log(`soak: failed: ${e.stack ?? e}`)
} finally {
  await clean.run()
}
process.exit(exitCode)

async function soak() {
  const topic = unique("soak")
  const dbName = unique("soak")
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  if ((await startCli("migrate", { DATABASE_URL: db }).exited).code !== 0) throw new Error("migrate failed")
  const procs = startProcesses(topic, db, await freePort())
  const admin = kafka(env.KAFKA_BROKERS, "soak-admin").admin()
  await admin.connect()
  clean.add("admin", () => admin.disconnect())
  const lagNow = lagProbe(admin, topic, db)
  const sampler = startSampler(procs, lagNow)

  const { published, faults, names } = await publishWithFaults(topic, procs)
  allServicesUp()
  if (!procs.processor().alive()) await procs.ctx.processor.kill()
  log(
    `soak: published (${published.acked} acknowledged, ${published.failed} failed); waiting for the processor to drain`
  )
  await eventually(
    async () => ((await lagNow()) === 0 ? true : undefined),
    900_000,
    "checkpoints covering the topic",
    2000
  )
  clearInterval(sampler.timer)

  const invariants = await checkInvariants({ brokers: env.KAFKA_BROKERS, topic, db })
  const samples = sampler.samples
  const result = {
    scenario: "soak",
    parameters: { minutes, rate, faultEvery, hangSeconds, seed, symbols },
    machine: machine(),
    published,
    faults,
    faultCounts: Object.fromEntries(names.map((n) => [n, faults.filter((f) => f.name === n).length])),
    slopes: slopes(samples),
    lag: { max: Math.max(0, ...samples.map((s) => s.lag ?? 0)), samples: samples.length },
    invariants,
    samples
  }
  writeFileSync(join(resultsDir, `soak-${minutes}m.json`), `${JSON.stringify(result, null, 1)}\n`)
  for (const i of invariants)
    log(`soak: ${i.ok ? "ok  " : "FAIL"} ${i.check} ${JSON.stringify(i.detail).slice(0, 400)}`)
  log(
    `soak: slopes ${JSON.stringify(result.slopes)}; max lag ${result.lag.max}; faults ${JSON.stringify(result.faultCounts)}`
  )
  return invariants.every((i) => i.ok) && faults.every((f) => f.ok) ? 0 : 1
}

/** processor and api, each reporting its memory through the preload; ctx.processor kills or restarts the processor. */
function startProcesses(topic, db, apiPort) {
  const appEnv = (name) => ({
    KAFKA_BROKERS: env.KAFKA_BROKERS,
    REDIS_URL: env.REDIS_URL,
    DATABASE_URL: db,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `${topic}-group`,
    SOAK_MEM_FILE: memFile(name),
    NODE_OPTIONS: `--import=${join(benchDir, "lib", "mem-report.mjs")}`
  })
  for (const name of ["processor", "api"]) rmSync(memFile(name), { force: true })
  const startProcessor = () => startCli("processor", appEnv("processor"), { name: "soak-processor" })
  let processor = startProcessor()
  const api = startCli("api", { ...appEnv("api"), PORT: String(apiPort) }, { name: "soak-api" })
  clean.add("processes", async () => {
    await processor.stop("SIGKILL")
    await api.stop("SIGKILL")
  })
  const ctx = {
    processor: {
      pid: () => processor.pid,
      kill: async () => {
        await processor.stop("SIGKILL")
        processor = startProcessor()
      },
      restart: async () => {
        await processor.stop("SIGTERM", 60_000)
        processor = startProcessor()
      }
    }
  }
  return { ctx, processor: () => processor, api: () => api, apiUrl: `http://127.0.0.1:${apiPort}` }
}

function memFile(name) {
  return join(process.env.SERVICES_DIR, `${name}.mem.jsonl`)
}

/** Topic end − checkpointed offsets, summed over partitions; null while a service is down. */
function lagProbe(admin, topic, db) {
  const sql = "SELECT partition, next_offset::bigint AS o FROM processor_checkpoints WHERE topic = $1"
  return async () => {
    try {
      const ends = await endOffsets(admin, topic)
      const done = new Map((await query(db, sql, [topic])).map((r) => [r.partition, Number(r.o)]))
      return [...ends].reduce((n, [p, end]) => n + Math.max(0, end - (done.get(p) ?? 0)), 0)
    } catch {
      return null
    }
  }
}

/** Every 5 s: lag, and RSS (from /proc) and heap (the preload's last line) of the processor and the api. */
function startSampler(procs, lagNow) {
  const lastHeap = (name) => {
    const text = existsSync(memFile(name)) ? readFileSync(memFile(name), "utf8").trim() : ""
    return text === "" ? null : JSON.parse(text.split("\n").at(-1))
  }
  const samples = []
  const t0 = Date.now()
  const timer = setInterval(async () => {
    // the api's answer to /api/latest (200, or 503 while Redis is away): it stays up through every fault
    const latest = await fetch(`${procs.apiUrl}/api/latest`).then(
      (r) => r.status,
      () => null
    )
    const s = { t: Date.now() - t0, lag: await lagNow(), latest }
    for (const name of ["processor", "api"]) {
      const rss = procStat(procs[name]().pid)?.rss ?? 0
      const heap = lastHeap(name)?.heapUsed ?? 0
      s[name] = { rssMiB: round(rss / 2 ** 20, 1), heapUsedMiB: round(heap / 2 ** 20, 1) }
    }
    samples.push(s)
  }, 5000)
  return { timer, samples }
}

/** Publishes for `minutes` at `rate`; meanwhile a random fault (seeded) every `faultEvery` seconds. */
async function publishWithFaults(topic, procs) {
  const prod = await producer(env.KAFKA_BROKERS)
  clean.add("producer", () => prod.disconnect())
  const t0 = Date.now()
  const end = t0 + minutes * 60_000
  const coins = benchSymbols(symbols, "S")
  const publishing = publishAtRate(prod, topic, coins, rate, minutes * 60, { stopAt: end })
  const kinds = faultKinds(hangSeconds)
  const names = Object.keys(kinds)
  const random = mulberry32(seed) // the soak prints its seed, so a run's fault order can be replayed
  const faults = []
  while (Date.now() + faultEvery * 1000 < end) {
    await sleep(faultEvery * 1000)
    const name = names[Math.floor(random() * names.length)]
    const at = Math.round((Date.now() - t0) / 1000)
    log(`soak: ${at} s: ${name}`)
    try {
      await kinds[name](procs.ctx)
      faults.push({ at, name, ok: true })
    } catch (e) {
      faults.push({ at, name, ok: false, error: String(e.message ?? e) })
      log(`soak: ${name} failed: ${e.message ?? e}`)
    }
  }
  return { published: await publishing, faults, names }
}

/** Least-squares slope in MiB per hour of each process's RSS and heap, over the samples after the first tenth. */
function slopes(all) {
  const rest = all.slice(Math.floor(all.length / 10))
  const slope = (pick) => {
    const pts = rest.map((s) => [s.t / 3_600_000, pick(s)]).filter(([, y]) => y > 0)
    if (pts.length < 3) return null
    const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length
    const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length
    const sxy = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
    const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0)
    return sxx > 0 ? round(sxy / sxx, 1) : null
  }
  return Object.fromEntries(
    ["processor", "api"].flatMap((p) => [
      [`${p}RssMiBPerHour`, slope((s) => s[p].rssMiB)],
      [`${p}HeapMiBPerHour`, slope((s) => s[p].heapUsedMiB)]
    ])
  )
}
