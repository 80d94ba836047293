// rest: GET /api/latest (10 symbols in Redis) and GET /api/candles/BTC?interval=1m&limit=1440 (one day of 1m
// candles, seeded with SQL into a fresh database) on the real `api`, under load from wrk.
// Beside it, the same run, interleaved round by round (the order rotated each round): bare node:http handlers doing
// the same Redis and SQL calls (bench/lib/baseline-rest.mjs), and FastAPI under uvicorn with 1 and 2 workers
// (bench/peers/fastapi/), when its venv is installed or with --peers (which installs it).
import { join } from "node:path"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { freePort, startCli, startNodeScript, startProcess } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, unique } from "../../support/services.mjs"
import { answers, sameAnswer } from "../lib/rest-answers.mjs"
import { endpoints, seed } from "../lib/rest-seed.mjs"
import { ratios, summarize, targets } from "../lib/rest-stats.mjs"
import { treeMeter, wrk, wrkVersion } from "../lib/rest-wrk.mjs"
import * as fastapi from "../peers/fastapi.mjs"

export const describe =
  "/api/latest and /api/candles (1,440 1m candles) under wrk, vs bare node:http handlers with the same Redis and SQL " +
  "calls, and FastAPI (1 and 2 uvicorn workers)"

/**
 * The servers, started: api, baseline, fastapi-1 and fastapi-2 when `withFastapi`, and api-before (another build of
 * the app, e.g. an older commit's dist/, for before and after in one run) when `beforeDist` names its directory.
 */
const startServers = async ({ db, redis, clean, profileDir, withFastapi, beforeDist }) => {
  const apiPort = await freePort()
  // All the load comes from 127.0.0.1: the per-address rate limit (default 50/s, burst 100) is lifted out of the way,
  // so it is measured as the per-request cost it has for many clients, not as 429s.
  const apiEnv = (port) => ({
    REDIS_URL: redis.url,
    DATABASE_URL: db,
    PORT: String(port),
    RATE_LIMIT: "1000000000",
    RATE_LIMIT_BURST: "1000000000"
  })
  const api = startCli("api", apiEnv(apiPort), { cpuProfileDir: profileDir, name: "rest-api" })
  clean.add("api", () => api.stop("SIGKILL"))
  const before = {}
  if (beforeDist !== undefined) {
    const port = await freePort()
    const env = {
      ...process.env,
      LOG_LEVEL: process.env["BENCH_LOG_LEVEL"] ?? "warn",
      DATA_DIR: "memory",
      HISTORY: "0"
    }
    delete env.KAFKA_BROKERS
    const proc = startProcess(process.execPath, [join(beforeDist, "main.js"), "api"], {
      name: "rest-api-before",
      env: { ...env, ...apiEnv(port) }
    })
    clean.add("api-before", () => proc.stop("SIGKILL"))
    before["api-before"] = { port, proc }
  }
  const basePort = await freePort()
  const base = startNodeScript(
    "baseline-rest.mjs",
    ["--port", String(basePort), "--redis", redis.url, "--database", db],
    { name: "rest-baseline" }
  )
  clean.add("baseline", () => base.stop("SIGKILL"))
  const servers = { api: { port: apiPort, proc: api }, ...before, baseline: { port: basePort, proc: base } }
  if (withFastapi) {
    for (const workers of [1, 2]) {
      const port = await freePort()
      const proc = fastapi.start({ port, workers, redisUrl: redis.url, databaseUrl: db })
      clean.add(`fastapi-${workers}`, () => proc.stop("SIGKILL"))
      servers[`fastapi-${workers}`] = { port, proc }
    }
  }
  await lineReader(base).next((m) => m.ev === "listening", 20_000, "baseline listening")
  for (const [name, { port, proc }] of Object.entries(servers))
    if (name !== "baseline") await waitHealthy(proc, `http://127.0.0.1:${port}/health`, 60_000)
  return servers
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const seconds = Number(options.seconds)
  const connections = Number(options.connections)
  // /api/candles answers ~300 KB and takes tens of ms even bare: fewer connections, so p99 is service time, not a queue.
  const candleConnections = Number(options.candlesConnections ?? Math.min(8, connections))
  const rounds = Number(options.rounds ?? 3)
  const warmup = Number(options.warmup ?? 2)
  // --endpoints latest (or candles): time only those, e.g. for a profile of one of them.
  const timed = String(options.endpoints ?? Object.keys(endpoints).join(",")).split(",")
  const wrkVer = wrkVersion()
  // FastAPI runs when its venv is installed already (a cached install adds well under a minute at --size tiny), or
  // with --peers, which installs it; --fastapi false leaves it out.
  const withFastapi = options.fastapi === "false" ? false : Boolean(options.peers) || fastapi.installed()
  const pythonVersions = withFastapi ? fastapi.install() : undefined

  const dbName = unique("bench_rest")
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  const migrate = startCli("migrate", { DATABASE_URL: db })
  if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  await seed(db, redis.url)
  const beforeDist = options.beforeDist === undefined ? undefined : String(options.beforeDist)
  const servers = await startServers({ db, redis, clean, profileDir, withFastapi, beforeDist })
  const names = Object.keys(servers)

  const shapes = {}
  for (const [name, { port }] of Object.entries(servers)) shapes[name] = await answers(port)
  const sameAnswers = names
    .filter((n) => n !== "api")
    .flatMap((n) =>
      Object.keys(endpoints).map((e) => sameAnswer(e, n, shapes.api, shapes[n], { bytes: !n.startsWith("fastapi") }))
    )
  for (const same of sameAnswers) if (!same.ok) log(`rest: answers differ: ${same.why}`)

  const runs = []
  for (let round = 1; round <= rounds; round++) {
    // Rotated each round: api, baseline, fastapi-1, fastapi-2; then baseline, fastapi-1, fastapi-2, api; …
    const order = names.map((_, i) => names[(i + round - 1) % names.length])
    for (const [endpoint, path] of Object.entries(endpoints).filter(([e]) => timed.includes(e))) {
      for (const server of order) {
        const url = `http://127.0.0.1:${servers[server].port}${path}`
        const conns = endpoint === "candles" ? candleConnections : connections
        if (warmup > 0) await wrk(url, warmup, conns) // discarded
        const meter = treeMeter(servers[server].proc.pid)
        meter.start()
        const r = await wrk(url, seconds, conns)
        const usage = meter.stop()
        runs.push({ round, endpoint, server, connections: conns, ...r, serverUsage: usage })
        log(
          `rest: round ${round} ${endpoint} ${server}: ${r.rps} req/s, p99 ${r.latencyMs.p99} ms (wrk ` +
            `${r.wrkCpuPercent}% CPU, server ${usage.cpuPercent}% in ${usage.processes} process(es))`
        )
      }
    }
  }

  const summary = summarize(runs, timed, names, shapes)
  const ratio = ratios(runs, summary, names)
  const stopped = await servers.api.proc.stop("SIGTERM")
  for (const s of Object.values(shapes)) for (const a of Object.values(s)) delete a.body
  return {
    toolVersions: { wrk: wrkVer, ...(pythonVersions === undefined ? {} : { fastapiPeer: pythonVersions }) },
    parameters: {
      seconds,
      connections: { latest: connections, candles: candleConnections },
      threads: 1,
      timeoutSeconds: 10,
      rounds,
      warmupSeconds: warmup,
      endpoints,
      servers: names,
      seededCandles: "10 symbols × 1,440 1m candles",
      seededLatest: "10 symbols",
      rateLimit: "RATE_LIMIT and RATE_LIMIT_BURST set to 1e9 (the limiter runs, never refuses)",
      loadTool: "wrk (Debian package), -t1, no pipelining",
      cpu: "utime+stime of each server's whole process tree (uvicorn's workers included), from /proc",
      redis: redis.kind
    },
    figures: { summary, runs, shapes, apiExit: stopped },
    ratio,
    correctness: [
      ...sameAnswers.map((same) => ({ check: same.check, ok: same.ok, ...(same.ok ? {} : { why: same.why }) })),
      // api-before is another build under study: its errors are in its figures, not a failure of this one.
      {
        check: "no errors or non-2xx under load",
        ok: runs.every((r) => r.server === "api-before" || (r.non2xx === 0 && r.socketErrors === 0))
      }
    ],
    target: targets(ratio)
  }
}
