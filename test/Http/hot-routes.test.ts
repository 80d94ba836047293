import { SqlClient } from "@effect/sql"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import { Tick } from "../../src/Domain/Tick.js"
import * as HotRoutes from "../../src/Http/HotRoutes.js"
import * as Markets from "../../src/Http/Markets.js"
import { downCache, type Rig, startRig } from "./api-rig.js"

// The hot routes (GET /api/latest and /api/candles/:symbol straight from node:http) answer exactly what the API does:
// for each URL, either they leave it to the full path, or they answer the very body the API answers with its 200, or
// they fail where the API answers an error. Both on the rig's data: candles with gaps and indicators, two markets.
const now = Date.UTC(2025, 0, 6, 12, 0, 0)
const m = 60_000
let rig: Rig

beforeAll(async () => {
  rig = await startRig(now)
  await rig.run(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (const [market, symbol] of [
        ["simulator:BTC-USD", "BTC"],
        ["binance:BTC-USDT", "BTC"]
      ] as const) {
        for (let i = 0; i < 30; i++) {
          if (i % 7 === 3) continue // empty buckets, for fill=true
          const p = 100 + i
          yield* sql`INSERT INTO candles (market, symbol, interval, bucket_start, open, high, low, close, volume,
            tick_count, vwap, sma20, sma50, ema12, ema26, rsi14, bb_upper, bb_middle, bb_lower, status, gaps,
            first_trade_id, last_trade_id)
            VALUES (${market}, ${symbol}, '1m', ${new Date(now - (30 - i) * m)}, ${p}, ${p + 1}, ${p - 1}, ${p + 0.5},
              ${i}, ${i + 1}, ${p}, ${i > 20 ? p : null}, null, ${p}, ${p}, ${50 + i}, ${p + 2}, ${p}, ${p - 2},
              ${i > 25 ? "provisional" : i === 10 ? "gap" : "final"}, ${i === 10 ? '[{"fromId":5,"toId":7}]' : "[]"}::jsonb,
              ${i * 10}, ${i * 10 + 9})`
        }
      }
      const cache = yield* LatestCache
      const tick = (symbol: string, market: string, price: number) =>
        new Tick({
          symbol,
          coinId: symbol.toLowerCase(),
          price,
          eventTime: now,
          source: "simulator",
          ingestTime: now,
          market: market as never
        })
      yield* cache.write(
        [
          tick("BTC", "simulator:BTC-USD", 101),
          tick("ETH", "simulator:ETH-USD", 11),
          tick("BTC", "binance:BTC-USDT", 102)
        ],
        []
      )
    })
  )
}, 120_000)
afterAll(() => rig.close())

const urls = [
  "/api/latest",
  "/api/latest?symbols=BTC",
  "/api/latest?symbols=binance:BTC-USDT,ETH",
  "/api/latest?symbols=",
  "/api/latest?symbols=nope!",
  "/api/latest?symbols=BTC&symbols=ETH",
  "/api/latest?other=1",
  "/api/latest/",
  "/api/candles/BTC",
  "/api/candles/btc",
  "/api/candles/binance:BTC-USDT?limit=5",
  "/api/candles/binance%3ABTC-USDT?limit=5",
  "/api/candles/BTC?interval=1m&limit=1440",
  "/api/candles/BTC?interval=5m",
  "/api/candles/BTC?interval=2m",
  "/api/candles/BTC?limit=0",
  "/api/candles/BTC?limit=5001",
  "/api/candles/BTC?limit=05",
  "/api/candles/BTC?limit=3&limit=4",
  "/api/candles/BTC?fill=true&indicators=true",
  "/api/candles/BTC?fill=true&final=true",
  "/api/candles/BTC?final=true&indicators=true&limit=7",
  "/api/candles/BTC?fill=yes",
  `/api/candles/BTC?from=${now - 20 * m}&to=${now - 5 * m}&fill=true`,
  `/api/candles/BTC?from=${now}&to=${now - m}`,
  "/api/candles/BTC?from=2025-01-06T11:40:00Z&to=2025-01-06",
  "/api/candles/BTC?from=2025-01-06&to=2025-01-07",
  "/api/candles/ETH",
  "/api/candles/not a market",
  "/api/candles/",
  "/api/candles/BTC/extra"
]

/** What the hot routes make of a URL: left to the full path, a 200 body, or a failure. */
const hot = (routes: HotRoutes.HotRoutes, url: string) => {
  const work = routes.answer(url)
  return work === undefined
    ? Promise.resolve({ taken: false as const })
    : rig.run(Effect.exit(Effect.withClock(work, rig.time.clock))).then((exit) => ({ taken: true as const, exit }))
}

const build = (cache?: typeof downCache) =>
  rig.run(
    Effect.provide(cache === undefined ? HotRoutes.make : Effect.provide(HotRoutes.make, cache), Markets.layer([]))
  )

describe("hot routes", () => {
  it("answer what the API answers, or leave the URL to it", async () => {
    const routes = await build()
    const api = rig.api()
    let answered = 0
    for (const url of urls) {
      const h = await hot(routes, url)
      const full = await api(url)
      if (!h.taken) continue
      if (Exit.isSuccess(h.exit)) {
        answered++
        expect({ url, status: full.status }).toEqual({ url, status: 200 })
        expect({ url, body: JSON.parse(h.exit.value) }).toEqual({ url, body: full.body })
      } else expect({ url, status: full.status === 200 }).toEqual({ url, status: false })
    }
    // Most of them are theirs (or this proves little).
    expect(answered).toBeGreaterThanOrEqual(12)
  })

  it("fail while the cache is down, where the API answers its 503", async () => {
    const routes = await build(downCache)
    const h = await hot(routes, "/api/latest")
    expect(h.taken && Exit.isFailure(h.exit)).toBe(true)
    expect((await rig.api({ services: downCache })("/api/latest")).status).toBe(503)
  })
})
