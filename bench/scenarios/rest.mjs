// rest: GET /api/latest (10 symbols in Redis) and GET /api/candles/BTC?interval=1m&limit=1440 (one day of 1m
// candles, seeded with SQL into a fresh database) on the real `api`, under load from wrk (Debian's package: C,
// one thread, far less CPU per request than a node load generator on a 2-core machine).
// Baseline, same run, interleaved round by round: bare node:http handlers doing the same Redis and SQL calls.
import { execFileSync, spawn } from "node:child_process"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { cpuMeter, freePort, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { ratio, round as roundTo } from "../../support/statistics.mjs"

export const describe =
  "/api/latest and /api/candles (1,440 1m candles) under wrk, vs bare node:http handlers with the same Redis and SQL calls"

const endpoints = { latest: "/api/latest", candles: "/api/candles/BTC?interval=1m&limit=1440" }
const seedSymbols = ["BTC", "ETH", "USDT", "BNB", "XRP", "USDC", "ADA", "XLM", "LINK", "LTC"]

const seed = async (db, redisUrl) => {
  await query(
    db,
    `
    INSERT INTO candles (market, symbol, interval, bucket_start, open, high, low, close, volume, tick_count, vwap,
                         sma20, sma50, ema12, ema26, rsi14, bb_upper, bb_middle, bb_lower)
    SELECT 'simulator:' || s || '-USD', s, '1m', date_trunc('minute', now()) - make_interval(mins => i),
           p, p * 1.002, p * 0.998, p * 1.001, 1 + (i % 7), 60, p * 1.0005,
           p, p, p, p, 50 + (i % 20), p * 1.01, p, p * 0.99
    FROM unnest($1::text[]) WITH ORDINALITY AS c(s, k),
         generate_series(0, 1439) AS i,
         LATERAL (SELECT (k * 100 + 10 * sin(i / 50.0))::double precision AS p) AS price`,
    [seedSymbols]
  )
  const { Redis } = await import("ioredis")
  const r = new Redis(redisUrl)
  const now = Date.now()
  const pipeline = r.pipeline()
  seedSymbols.forEach((symbol, i) => {
    pipeline.setex(
      `latest:simulator:${symbol}-USD`,
      86_400,
      JSON.stringify({
        symbol,
        coinId: symbol.toLowerCase(),
        price: 100 * (i + 1),
        volume: 1.5,
        volume24h: 1e9,
        marketCap: 1e10,
        change24h: 1.2,
        eventTime: now,
        source: "simulator",
        ingestTime: now,
        market: `simulator:${symbol}-USD`
      })
    )
  })
  pipeline.sadd(
    "latest:markets",
    seedSymbols.map((s) => `simulator:${s}-USD`)
  )
  await pipeline.exec()
  await r.quit()
}

/** The seeded data, as both servers must answer it; asOf (each server's clock) is the one field set to 0. */
const expectedItems = { latest: seedSymbols.length, candles: 1440 }
const withoutClock = (body) => body.replace(/"asOf":\d+/, '"asOf":0')

/** Byte for byte: api and baseline bodies equal (asOf aside), both 200 with every seeded item. */
export const sameBody = (endpoint, shapes, bodies) => {
  const a = shapes[`api ${endpoint}`]
  const b = shapes[`baseline ${endpoint}`]
  const [x, y] = [withoutClock(bodies[`api ${endpoint}`]), withoutClock(bodies[`baseline ${endpoint}`])]
  const at = [...x].findIndex((c, i) => c !== y[i])
  const why =
    a.status !== 200 || b.status !== 200
      ? `status ${a.status} / ${b.status}`
      : a.items !== expectedItems[endpoint] || b.items !== expectedItems[endpoint]
        ? `${a.items} / ${b.items} items, seeded ${expectedItems[endpoint]}`
        : x !== y
          ? `bodies differ at byte ${at < 0 ? Math.min(x.length, y.length) : at}: api …${x.slice(Math.max(0, at - 40), at + 60)}… ` +
            `baseline …${y.slice(Math.max(0, at - 40), at + 60)}…`
          : undefined
  return {
    check: `${endpoints[endpoint]}: api and baseline answer the same bytes (asOf aside), ${expectedItems[endpoint]} items`,
    ok: why === undefined,
    why
  }
}

const toMs = (v, unit) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN)

const parseWrk = (text) => {
  const lat = {}
  for (const m of text.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm))
    lat[`p${m[1]}`] = roundTo(toMs(m[2], m[3]), 2)
  const max = text.match(/Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/)
  const requests = Number(text.match(/(\d+) requests in/)?.[1] ?? NaN)
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0)
  const errors = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
  return {
    requests,
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    latencyMs: { ...lat, max: max ? roundTo(toMs(max[1], max[2]), 2) : null },
    non2xx,
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0
  }
}

const wrk = (url, seconds, connections) =>
  new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", url], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    const meter = cpuMeter(child.pid)
    meter.start()
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("exit", (code) => {
      const usage = meter.stop()
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${out}`))
      else resolve({ ...parseWrk(out), wrkCpuPercent: usage.cpuPercent })
    })
  })

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const seconds = Number(options.seconds)
  const connections = Number(options.connections)
  // /api/candles answers ~300 KB and takes tens of ms even bare: fewer connections, so p99 is service time, not a queue.
  const candleConnections = Number(options.candlesConnections ?? Math.min(8, connections))
  const rounds = Number(options.rounds ?? 2)
  const wrkVersion = (() => {
    try {
      return execFileSync("wrk", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).match(
        /wrk [^\s]+/
      )?.[0]
    } catch (e) {
      const text = String(e.stdout ?? "") + String(e.stderr ?? "")
      if (/wrk/.test(text)) return text.match(/wrk [^\s]+/)?.[0]
      throw new Error("wrk is not installed: apt-get install -y wrk")
    }
  })()
  const dbName = unique("bench_rest")
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  const migrate = startCli("migrate", { DATABASE_URL: db })
  if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  await seed(db, redis.url)

  const apiPort = await freePort()
  // All the load comes from 127.0.0.1: the per-address rate limit (default 50/s, burst 100) is lifted out of the way,
  // so it is measured as the per-request cost it has for many clients, not as 429s.
  const api = startCli(
    "api",
    {
      REDIS_URL: redis.url,
      DATABASE_URL: db,
      PORT: String(apiPort),
      RATE_LIMIT: "1000000000",
      RATE_LIMIT_BURST: "1000000000"
    },
    { cpuProfileDir: profileDir, name: "rest-api" }
  )
  clean.add("api", () => api.stop("SIGKILL"))
  const basePort = await freePort()
  const base = startNodeScript(
    "baseline-rest.mjs",
    ["--port", String(basePort), "--redis", redis.url, "--database", db],
    { name: "rest-baseline" }
  )
  clean.add("baseline", () => base.stop("SIGKILL"))
  await lineReader(base).next((m) => m.ev === "listening", 20_000, "baseline listening")
  await waitHealthy(api, `http://127.0.0.1:${apiPort}/health`)

  const servers = { api: { port: apiPort, pid: api.pid }, baseline: { port: basePort, pid: base.pid } }

  // The answers are the same bytes before anything is timed (the clock's asOf aside): a baseline that answered less,
  // or an api that answered wrong, would make the comparison meaningless.
  const shapes = {}
  const bodies = {}
  for (const [server, { port }] of Object.entries(servers)) {
    for (const [endpoint, path] of Object.entries(endpoints)) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`)
      const body = await res.text()
      const json = JSON.parse(body)
      bodies[`${server} ${endpoint}`] = body
      shapes[`${server} ${endpoint}`] = {
        status: res.status,
        bytes: Buffer.byteLength(body),
        items: (json.prices ?? json.candles ?? []).length
      }
    }
  }
  const sameAnswers = Object.keys(endpoints).map((endpoint) => sameBody(endpoint, shapes, bodies))
  for (const same of sameAnswers) if (!same.ok) log(`rest: answers differ: ${same.why}`)
  const runs = []
  for (let round = 1; round <= rounds; round++) {
    for (const [endpoint, path] of Object.entries(endpoints)) {
      const order = round % 2 === 1 ? ["api", "baseline"] : ["baseline", "api"]
      for (const server of order) {
        const url = `http://127.0.0.1:${servers[server].port}${path}`
        const conns = endpoint === "candles" ? candleConnections : connections
        await wrk(url, 2, conns) // warm-up, discarded
        const cpu = cpuMeter(servers[server].pid)
        cpu.start()
        const r = await wrk(url, seconds, conns)
        const usage = cpu.stop()
        runs.push({
          round,
          endpoint,
          server,
          connections: conns,
          ...r,
          serverCpuPercent: usage.cpuPercent,
          serverRssMiB: usage.rssMiB
        })
        log(
          `rest: round ${round} ${endpoint} ${server}: ${r.rps} req/s, p99 ${r.latencyMs.p99} ms (wrk ` +
            `${r.wrkCpuPercent}% CPU, server ${usage.cpuPercent}%)`
        )
      }
    }
  }

  const summary = {}
  for (const endpoint of Object.keys(endpoints)) {
    summary[endpoint] = {}
    for (const server of Object.keys(servers)) {
      const rs = runs.filter((r) => r.endpoint === endpoint && r.server === server)
      summary[endpoint][server] = {
        rps: roundTo(rs.reduce((a, r) => a + r.rps, 0) / rs.length, 0),
        p50Ms: roundTo(rs.reduce((a, r) => a + r.latencyMs.p50, 0) / rs.length, 2),
        p99Ms: roundTo(Math.max(...rs.map((r) => r.latencyMs.p99)), 2),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
        serverCpuPercent: roundTo(rs.reduce((a, r) => a + r.serverCpuPercent, 0) / rs.length, 0),
        responseBytes: shapes[`${server} ${endpoint}`].bytes
      }
    }
    summary[endpoint].ratio = ratio(summary[endpoint].api.rps, summary[endpoint].baseline.rps)
  }
  const stopped = await api.stop("SIGTERM")
  return {
    toolVersions: { wrk: wrkVersion },
    parameters: {
      seconds,
      connections: { latest: connections, candles: candleConnections },
      threads: 1,
      timeoutSeconds: 10,
      rounds,
      warmupSeconds: 2,
      endpoints,
      seededCandles: "10 symbols × 1,440 1m candles",
      seededLatest: "10 symbols",
      rateLimit: "RATE_LIMIT and RATE_LIMIT_BURST set to 1e9 (the limiter runs, never refuses)",
      loadTool: "wrk (Debian package), -t1, no pipelining",
      redis: redis.kind
    },
    figures: { summary, runs, shapes, apiExit: stopped },
    ratio: {
      latest: summary.latest.ratio,
      candles: summary.candles.ratio,
      definition: "api requests/s ÷ baseline requests/s (mean over rounds); p99 is the worst round's"
    },
    correctness: [
      ...sameAnswers.map((same) => ({ check: same.check, ok: same.ok })),
      { check: "no errors or non-2xx under load", ok: runs.every((r) => r.non2xx === 0 && r.socketErrors === 0) }
    ],
    target: { rpsRatio: 0.8, met: summary.latest.ratio >= 0.8 && summary.candles.ratio >= 0.8 }
  }
}
