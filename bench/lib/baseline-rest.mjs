// The bare REST baseline: node:http handlers doing what the app's /api/latest and /api/candles do, with the same
// clients and the same work: Redis SMEMBERS + MGET and JSON per tick; the same SQL on a pg pool of 10 (the app's
// maxConnections), rows mapped to the Candle JSON shape.
//
//   node bench/lib/baseline-rest.mjs --port P --redis URL --database URL
import http from "node:http"
import { Redis } from "ioredis"
import pg from "pg"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]

const redis = new Redis(args.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 })
await new Promise((r) => redis.once("ready", r))
const pool = new pg.Pool({ connectionString: args.database, max: 10 })

const send = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const latest = async (res) => {
  const markets = await redis.smembers("latest:markets")
  const values = markets.length === 0 ? [] : await redis.mget(...markets.map((m) => `latest:${m}`))
  const prices = []
  for (const v of values) if (v !== null) prices.push(JSON.parse(v))
  prices.sort((a, b) => (a.market < b.market ? -1 : a.market > b.market ? 1 : 0))
  send(res, 200, JSON.stringify({ prices, asOf: Date.now() }))
}

const sqlText = `SELECT * FROM (
    SELECT * FROM candles WHERE market = $1 AND interval = $2 ORDER BY bucket_start DESC LIMIT $3
  ) recent ORDER BY bucket_start ASC`

// The bench seeds simulator markets only: a bare symbol is its simulator market, as the app's default-market rule says.
const candles = async (res, segment, params) => {
  const market = segment.includes(":") ? segment : `simulator:${segment.toUpperCase()}-USD`
  const symbol = market.slice(market.indexOf(":") + 1, market.indexOf("-"))
  const interval = params.get("interval") ?? "1m"
  const limit = Number(params.get("limit") ?? 500)
  const { rows } = await pool.query(sqlText, [market, interval, limit])
  const out = rows.map((r) => ({
    market: r.market,
    symbol: r.symbol,
    interval: r.interval,
    bucketStart: r.bucket_start.getTime(),
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    tickCount: r.tick_count,
    vwap: r.vwap,
    status: r.status,
    gaps: r.gaps,
    firstTradeId: r.first_trade_id === null ? null : Number(r.first_trade_id),
    lastTradeId: r.last_trade_id === null ? null : Number(r.last_trade_id)
  }))
  send(res, 200, JSON.stringify({ symbol, market, interval, candles: out }))
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x")
  let work
  if (url.pathname === "/api/latest") work = latest(res)
  else if (url.pathname.startsWith("/api/candles/"))
    work = candles(res, decodeURIComponent(url.pathname.slice("/api/candles/".length)), url.searchParams)
  else if (url.pathname === "/health") work = Promise.resolve(send(res, 200, '{"status":"ok"}'))
  else work = Promise.resolve(send(res, 404, '{"error":"not found"}'))
  work.catch((e) => send(res, 503, JSON.stringify({ error: String(e.message ?? e) })))
})
await new Promise((r) => server.listen(Number(args.port), "127.0.0.1", r))
process.stdout.write(`${JSON.stringify({ ev: "listening", port: Number(args.port) })}\n`)
process.on("SIGTERM", async () => {
  server.close()
  await pool.end().catch(() => undefined)
  redis.disconnect()
  process.exit(0)
})
