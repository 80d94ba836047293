import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import { downCache, type Rig, startRig } from "./api-rig.js"

// GET /api/markets and /api/markets/:market/gaps in process (embedded Postgres, memory cache, a clock set by the test).

const now = Date.UTC(2026, 0, 10, 12, 0, 0)
const s = 1_000

const markets: ReadonlyArray<[string, string, string, string, string, number | null]> = [
  ["coingecko:BTC-USD", "coingecko", "BTC", "USD", "sample", now - 10 * s], // live
  ["binance:BTC-USDT", "binance", "BTC", "USDT", "trades", now - 60 * s], // live: exactly at the edge
  ["coinbase:BTC-USD", "coinbase", "BTC", "USD", "trades", now - 61 * s], // stale
  ["kraken:ETH-USD", "kraken", "ETH", "USD", "trades", null] // idle
]

const gap = (fromId: number, toId: number, fromTime: number, toTime: number, market = "binance:BTC-USDT") => ({
  market,
  fromId,
  toId,
  fromTime,
  toTime,
  reason: "not-served",
  detectedAt: toTime + 5 * s
})
const gaps = [
  gap(100, 104, now - 3_600 * s, now - 3_590 * s),
  gap(200, 200, now - 1_800 * s, now - 1_799 * s),
  gap(300, 349, now - 600 * s, now - 590 * s),
  gap(10, 12, now - 100 * s, now - 99 * s, "coinbase:BTC-USD")
]

let rig: Rig
beforeAll(async () => {
  rig = await startRig(now)
  await rig.run(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (const [market, venue, base, quote, kind, last] of markets) {
        const time = last === null ? null : new Date(last)
        yield* sql`INSERT INTO markets (market, venue, base, quote, kind, first_event_time, last_event_time)
          VALUES (${market}, ${venue}, ${base}, ${quote}, ${kind}, ${time}, ${time})`
      }
      for (const g of gaps) {
        yield* sql`INSERT INTO gaps (market, from_id, to_id, from_time, to_time, reason, detected_at)
          VALUES (${g.market}, ${g.fromId}, ${g.toId}, ${new Date(g.fromTime)}, ${new Date(g.toTime)}, ${g.reason},
            ${new Date(g.detectedAt)})`
      }
      const cache = yield* LatestCache
      yield* cache.write(
        [
          new Tick({
            symbol: "BTC",
            coinId: "BTCUSDT",
            price: 97_001.5,
            volume: 0.01,
            eventTime: now - 60 * s,
            source: "binance",
            ingestTime: now - 60 * s,
            market: "binance:BTC-USDT" as Market,
            tradeId: 400,
            side: "sell"
          })
        ],
        []
      )
    })
  )
}, 60_000)
afterAll(async () => {
  await rig?.close()
})

describe("GET /api/markets", () => {
  it("lists every market of the table by market, with its state, last event time and the cached last price", async () => {
    const { status, body } = await rig.api()("/api/markets")
    expect(status).toBe(200)
    expect(body).toEqual({
      markets: [
        {
          market: "binance:BTC-USDT",
          venue: "binance",
          base: "BTC",
          quote: "USDT",
          kind: "trades",
          state: "live",
          lastEventTime: now - 60 * s,
          lastPrice: 97_001.5
        },
        {
          market: "coinbase:BTC-USD",
          venue: "coinbase",
          base: "BTC",
          quote: "USD",
          kind: "trades",
          state: "stale",
          lastEventTime: now - 61 * s,
          lastPrice: null
        },
        {
          market: "coingecko:BTC-USD",
          venue: "coingecko",
          base: "BTC",
          quote: "USD",
          kind: "sample",
          state: "live",
          lastEventTime: now - 10 * s,
          lastPrice: null
        },
        {
          market: "kraken:ETH-USD",
          venue: "kraken",
          base: "ETH",
          quote: "USD",
          kind: "trades",
          state: "idle",
          lastEventTime: null,
          lastPrice: null
        }
      ]
    })
  })

  it("still answers while the cache is down, every last price null", async () => {
    const { status, body } = await rig.api({ services: downCache })("/api/markets")
    expect(status).toBe(200)
    const list = body["markets"] as Array<{ market: string; lastPrice: number | null; state: string }>
    expect(list.map((m) => [m.market, m.lastPrice, m.state])).toEqual([
      ["binance:BTC-USDT", null, "live"],
      ["coinbase:BTC-USD", null, "stale"],
      ["coingecko:BTC-USD", null, "live"],
      ["kraken:ETH-USD", null, "idle"]
    ])
  })
})

describe("GET /api/markets/:market/gaps", () => {
  const ids = (body: Record<string, unknown>) =>
    (body["gaps"] as Array<{ fromId: number; toId: number }>).map((g) => [g.fromId, g.toId])

  it("lists a market's gaps newest first, as Gap records", async () => {
    const { status, body } = await rig.api()("/api/markets/binance:BTC-USDT/gaps")
    expect(status).toBe(200)
    expect(body["market"]).toBe("binance:BTC-USDT")
    expect(ids(body)).toEqual([
      [300, 349],
      [200, 200],
      [100, 104]
    ])
    expect((body["gaps"] as Array<unknown>)[0]).toEqual({ type: "gap", ...gaps[2] })
  })

  it("takes the market as %3A, in any case, or as a bare symbol (its default market)", async () => {
    const api = rig.api()
    expect(ids((await api("/api/markets/Binance%3Abtc-usdt/gaps")).body)).toEqual([
      [300, 349],
      [200, 200],
      [100, 104]
    ])
    // BTC's default among the known markets is CoinGecko's (venue order first), which has none.
    expect((await api("/api/markets/BTC/gaps")).body).toEqual({ market: "coingecko:BTC-USD", gaps: [] })
    // with DEFAULT_MARKETS naming coinbase's, BTC means that one
    const configured = rig.api({ defaultMarkets: ["coinbase:BTC-USD" as Market] })
    expect(ids((await configured("/api/markets/btc/gaps")).body)).toEqual([[10, 12]])
  })

  it("keeps to limit and to the gaps meeting [from, to)", async () => {
    const api = rig.api()
    expect(ids((await api("/api/markets/binance:BTC-USDT/gaps?limit=2")).body)).toEqual([
      [300, 349],
      [200, 200]
    ])
    // from: the gap ending exactly at from still meets it; to: one starting at to does not
    const from = now - 1_799 * s
    const to = now - 600 * s
    expect(ids((await api(`/api/markets/binance:BTC-USDT/gaps?from=${from}&to=${to}`)).body)).toEqual([[200, 200]])
    expect(ids((await api(`/api/markets/binance:BTC-USDT/gaps?to=${new Date(to + 1).toISOString()}`)).body)).toEqual([
      [300, 349],
      [200, 200],
      [100, 104]
    ])
  })

  it("answers 400 for a bad market, limit or range", async () => {
    const api = rig.api()
    for (const path of [
      "/api/markets/nasdaq:BTC-USD/gaps",
      "/api/markets/binance:BTC-BTC/gaps",
      "/api/markets/binance:BTC_USDT/gaps",
      "/api/markets/binance:BTC-USDT/gaps?limit=0",
      "/api/markets/binance:BTC-USDT/gaps?limit=5001",
      `/api/markets/binance:BTC-USDT/gaps?from=${now}&to=${now}`
    ]) {
      expect([path, (await api(path)).status]).toEqual([path, 400])
    }
  })
})
