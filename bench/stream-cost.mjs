// The fast path's cost of the shared SSE ids (issue #19): the cache writer's Redis command per batch, PUBLISH only (as
// before) against PUBLISH + XADD + XTRIM (src/Cache/Redis.ts), alternated on the same Redis in one process, per batch
// size. Scratch keys (bench:*), no subscriber. Asserts no time.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/stream-cost.mjs [--reps 300] [--sizes 1,20,200,2000]
import { Redis } from "ioredis"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const reps = Number(arg("reps", "300"))
const sizes = arg("sizes", "1,20,200,2000").split(",").map(Number)
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
const stream = `bench:events:${process.pid}`
const channel = `bench:updates:${process.pid}`

const before = "for i = 1, #ARGV do redis.call('PUBLISH', KEYS[1], ARGV[i]) end"
const after = `for i = 2, #ARGV do
  redis.call('PUBLISH', KEYS[1], ARGV[i])
  redis.call('XADD', KEYS[2], '*', 'u', ARGV[i])
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[1])`

// A tick update as the processor publishes it (~330 bytes).
const message = (i) =>
  JSON.stringify({
    _tag: "tick",
    tick: {
      symbol: "BTC",
      coinId: "binance:BTC-USDT",
      price: 97000 + i / 100,
      volume: 0.0123,
      eventTime: 1_764_000_000_000 + i,
      source: "binance",
      ingestTime: 1_764_000_000_003 + i,
      market: "binance:BTC-USDT",
      tradeId: 4_000_000_000 + i,
      side: i % 2 ? "buy" : "sell"
    }
  })

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const call = {
  before: (batch) => redis.eval(before, 1, channel, ...batch),
  after: (batch) => redis.eval(after, 2, channel, stream, 10_000, ...batch)
}

const results = []
for (const size of sizes) {
  const batch = Array.from({ length: size }, (_, i) => message(i))
  const times = { before: [], after: [] }
  for (let r = 0; r < 20; r++) for (const k of ["before", "after"]) await call[k](batch) // warm-up
  for (let r = 0; r < reps; r++) {
    for (const k of r % 2 ? ["before", "after"] : ["after", "before"]) {
      const t = process.hrtime.bigint()
      await call[k](batch)
      times[k].push(Number(process.hrtime.bigint() - t) / 1e6)
    }
  }
  const row = { size }
  for (const k of ["before", "after"]) {
    const s = times[k].sort((a, b) => a - b)
    const median = quantile(s, 0.5)
    row[k] = {
      medianMs: +median.toFixed(3),
      p99Ms: +quantile(s, 0.99).toFixed(3),
      updatesPerSecond: Math.round(size / (median / 1000))
    }
  }
  row.medianRatio = +(row.after.medianMs / row.before.medianMs).toFixed(2)
  results.push(row)
  console.log(JSON.stringify(row))
}
const memory = await redis.memory("USAGE", stream)
console.log(JSON.stringify({ streamEntries: await redis.xlen(stream), streamBytes: memory }))
await redis.del(stream)
await redis.quit()
