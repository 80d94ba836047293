import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import { AppConfig, describeConfigError } from "../../src/Config.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import { HandlersLive } from "../../src/Http/Handlers.js"
import { defaultMarket, MarketListParam, MarketParam } from "../../src/Http/Markets.js"
import { VenueConnections } from "../../src/Http/Venues.js"
import { type Rig, startRig } from "./api-rig.js"

// Bare symbols and full markets in every `:symbol` URL (docs/markets.md, "Markets"): the default-market rule on its
// own, then through the API in process (embedded Postgres, memory cache, a clock set by the test).

const m = (s: string) => s as Market

describe("defaultMarket (the rule, from examples written out by hand)", () => {
  it("takes the first of DEFAULT_MARKETS with that base", () => {
    expect(defaultMarket("BTC", [m("kraken:ETH-USD"), m("kraken:BTC-USD")], [m("coingecko:BTC-USD")])).toBe(
      "kraken:BTC-USD"
    )
    // even one not known yet
    expect(defaultMarket("BTC", [m("coinbase:BTC-EUR")], [])).toBe("coinbase:BTC-EUR")
  })
  it("else orders the known markets by venue (coingecko, simulator, binance, coinbase, kraken), then by quote", () => {
    expect(defaultMarket("ETH", [m("kraken:BTC-USD")], [m("kraken:ETH-USD"), m("binance:ETH-USDT")])).toBe(
      "binance:ETH-USDT"
    )
    expect(defaultMarket("BTC", [], [m("binance:BTC-USDT"), m("simulator:BTC-USD"), m("coingecko:BTC-USD")])).toBe(
      "coingecko:BTC-USD"
    )
    expect(defaultMarket("SOL", [], [m("coinbase:SOL-EUR"), m("coinbase:SOL-USDT"), m("coinbase:SOL-USD")])).toBe(
      "coinbase:SOL-USD"
    )
    expect(defaultMarket("SOL", [], [m("coinbase:SOL-EUR"), m("coinbase:SOL-USDT")])).toBe("coinbase:SOL-USDT")
    // among other quotes, by name: the answer never depends on the list's order
    expect(defaultMarket("SOL", [], [m("kraken:SOL-GBP"), m("kraken:SOL-EUR")])).toBe("kraken:SOL-EUR")
    expect(defaultMarket("SOL", [], [m("kraken:SOL-EUR"), m("kraken:SOL-GBP")])).toBe("kraken:SOL-EUR")
  })
  it("else CoinGecko's market of the symbol against USD", () => {
    expect(defaultMarket("DOGE", [m("binance:BTC-USDT")], [m("binance:BTC-USDT")])).toBe("coingecko:DOGE-USD")
  })
})

describe("market parameters", () => {
  const decode = Schema.decodeUnknownEither(MarketParam)
  it("reads a market in any case, a bare symbol upper-cased, and refuses the rest with the reason", () => {
    expect(decode("Binance:btc-usdt")).toEqual(Either.right({ _tag: "Market", market: "binance:BTC-USDT" }))
    expect(decode("eth")).toEqual(Either.right({ _tag: "Bare", symbol: "ETH" }))
    for (const bad of ["btc-usd", "binance:BTCUSDT", "nasdaq:BTC-USD", "binance:BTC-BTC", "", "B".repeat(16)]) {
      expect([bad, Either.isLeft(decode(bad))]).toEqual([bad, true])
    }
    const unknownVenue = decode("nasdaq:BTC-USD")
    expect(Either.isLeft(unknownVenue) && String(unknownVenue.left)).toContain('unknown venue "nasdaq"')
  })
  it("reads a symbols list of markets and symbols, up to 100", () => {
    const decodeList = Schema.decodeUnknownEither(MarketListParam)
    expect(decodeList("btc,Coinbase:eth-usd")).toEqual(
      Either.right([
        { _tag: "Bare", symbol: "BTC" },
        { _tag: "Market", market: "coinbase:ETH-USD" }
      ])
    )
    expect(Either.isRight(decodeList(Array.from({ length: 100 }, () => "BTC").join(",")))).toBe(true)
    expect(Either.isLeft(decodeList(Array.from({ length: 101 }, () => "BTC").join(",")))).toBe(true)
    expect(Either.isLeft(decodeList("BTC,,ETH"))).toBe(true)
  })
})

const now = Date.UTC(2026, 0, 10, 12, 0, 0)
const closes: ReadonlyArray<[string, number]> = [
  ["coingecko:BTC-USD", 100],
  ["binance:BTC-USDT", 200],
  ["coinbase:BTC-USD", 300],
  ["kraken:ETH-USD", 400],
  ["binance:ETH-USDT", 500]
]
const closeOf = (body: Record<string, unknown>) =>
  (body["candles"] as Array<{ close: number; market: string }>).map((c) => [c.market, c.close])

let rig: Rig
beforeAll(async () => {
  rig = await startRig(now)
  await rig.run(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      for (const [market, close] of closes) {
        const [venue, pair] = market.split(":") as [string, string]
        const [base, quote] = pair.split("-") as [string, string]
        const kind = venue === "coingecko" ? "sample" : "trades"
        yield* sql`INSERT INTO markets (market, venue, base, quote, kind, last_event_time)
          VALUES (${market}, ${venue}, ${base}, ${quote}, ${kind}, ${new Date(now - 5_000)})`
        yield* sql`INSERT INTO candles (market, symbol, interval, bucket_start, open, high, low, close, volume, tick_count, vwap)
          VALUES (${market}, ${base}, '1m', ${new Date(now - 60_000)}, ${close}, ${close}, ${close}, ${close}, 1, 1, ${close})`
      }
      // A market only the cache knows yet (before its first checkpoint).
      const cache = yield* LatestCache
      yield* cache.write(
        [
          new Tick({
            symbol: "XRP",
            coinId: "ripple",
            price: 2.5,
            eventTime: now,
            source: "simulator",
            ingestTime: now
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

describe("bare symbols and markets through the API", () => {
  it("serves a bare symbol from its default market and a market (raw, %3A, any case) from itself", async () => {
    const api = rig.api()
    const bare = await api("/api/candles/btc")
    expect([bare.status, bare.body["symbol"], bare.body["market"]]).toEqual([200, "BTC", "coingecko:BTC-USD"])
    expect(closeOf(bare.body)).toEqual([["coingecko:BTC-USD", 100]])
    for (const path of [
      "/api/candles/binance:BTC-USDT",
      "/api/candles/binance%3ABTC-USDT",
      "/api/candles/BINANCE:btc-usdt"
    ]) {
      const { body } = await api(path)
      expect([path, body["market"], closeOf(body)]).toEqual([path, "binance:BTC-USDT", [["binance:BTC-USDT", 200]]])
    }
    // venue order before quote: binance's USDT market over kraken's USD one
    expect(closeOf((await api("/api/candles/ETH")).body)).toEqual([["binance:ETH-USDT", 500]])
    const indicators = await api("/api/indicators/coinbase:BTC-USD")
    expect([indicators.status, indicators.body["symbol"], indicators.body["market"]]).toEqual([
      200,
      "BTC",
      "coinbase:BTC-USD"
    ])
    expect((await api("/api/indicators/kraken:BTC-USD")).status).toBe(404)
  })

  it("resolves a bare symbol to a market the cache knows before the table does; /api/latest filters by both", async () => {
    const api = rig.api()
    const xrp = await api("/api/latest/XRP")
    expect([xrp.status, xrp.body["market"], xrp.body["price"]]).toEqual([200, "simulator:XRP-USD", 2.5])
    const missing = await api("/api/latest/BTC")
    expect([missing.status, missing.body["error"]]).toEqual([404, "no recent price for coingecko:BTC-USD"])
    const all = await api("/api/latest")
    expect((all.body["prices"] as Array<{ market: string }>).map((t) => t.market)).toEqual(["simulator:XRP-USD"])
    expect((await api("/api/latest?symbols=binance:BTC-USDT,xrp")).body["prices"]).toHaveLength(1)
    expect((await api("/api/latest?symbols=binance:BTC-USDT")).body["prices"]).toEqual([])
    expect((await api("/api/latest?symbols=nasdaq:XRP-USD")).status).toBe(400)
  })

  it("reads the known markets again after a short while, not on every request", async () => {
    const api = rig.api()
    expect((await api("/api/candles/ADA")).body["market"]).toBe("coingecko:ADA-USD")
    await rig.run(
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) =>
          sql`INSERT INTO markets (market, venue, base, quote, kind) VALUES ('kraken:ADA-USD', 'kraken', 'ADA', 'USD', 'trades')`
      )
    )
    expect((await api("/api/candles/ADA")).body["market"]).toBe("coingecko:ADA-USD")
    rig.time.advance(2_001)
    expect((await api("/api/candles/ADA")).body["market"]).toBe("kraken:ADA-USD")
  })

  it("takes DEFAULT_MARKETS from the environment, and refuses a bad one naming it", async () => {
    const before = process.env["DEFAULT_MARKETS"]
    try {
      process.env["DEFAULT_MARKETS"] = " Coinbase:btc-usd , kraken:ETH-USD"
      const api = rig.api({ handlers: HandlersLive })
      expect((await api("/api/candles/BTC")).body["market"]).toBe("coinbase:BTC-USD")
      expect((await api("/api/candles/ETH")).body["market"]).toBe("kraken:ETH-USD")
      process.env["DEFAULT_MARKETS"] = "coinbase:BTC-USD,BTC"
      const exit = await Effect.runPromise(Effect.either(AppConfig))
      expect(Either.isLeft(exit) && describeConfigError(exit.left).join("\n")).toMatch(/^invalid DEFAULT_MARKETS: /)
    } finally {
      if (before === undefined) delete process.env["DEFAULT_MARKETS"]
      else process.env["DEFAULT_MARKETS"] = before
    }
  })

  it("/ready lists each venue connection where the process has them, degraded while one is not open", async () => {
    const venues = Context.make(VenueConnections, {
      snapshot: Effect.succeed([
        { venue: "binance", state: "open" as const, since: now - 9_000, lastTradeAt: now - 1_000, markets: 10 },
        {
          venue: "kraken",
          state: "closed" as const,
          since: now - 2_000,
          reason: "stale: no frame for 30 s",
          markets: 3
        }
      ])
    })
    const { status, body } = await rig.api({ services: venues as Context.Context<never> })("/ready")
    expect(status).toBe(200)
    expect(body["status"]).toBe("degraded")
    const deps = body["dependencies"] as Record<string, unknown>
    expect(deps["venue:binance"]).toEqual({
      kind: "websocket",
      state: "up",
      since: now - 9_000,
      markets: 10,
      lastTradeAt: now - 1_000
    })
    expect(deps["venue:kraken"]).toEqual({
      kind: "websocket",
      state: "down",
      error: "stale: no frame for 30 s",
      since: now - 2_000,
      markets: 3
    })
    // without the service: no venue entries, and ready
    const plain = await rig.api()("/ready")
    expect([plain.status, plain.body["status"], Object.keys(plain.body["dependencies"] as object)]).toEqual([
      200,
      "ready",
      ["database", "cache"]
    ])
  })
})
