// The rest scenario's data: 10 symbols × 1,440 1m candles in a fresh database, and their 10 latest ticks in Redis.
import { query } from "../../support/services.mjs"

export const endpoints = { latest: "/api/latest", candles: "/api/candles/BTC?interval=1m&limit=1440" }
export const seedSymbols = ["BTC", "ETH", "USDT", "BNB", "XRP", "USDC", "ADA", "XLM", "LINK", "LTC"]
/** What every server must answer with: the seeded items. */
export const expectedItems = { latest: seedSymbols.length, candles: 1440 }

export const seed = async (db, redisUrl) => {
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
