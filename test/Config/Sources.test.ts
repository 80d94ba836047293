import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Option } from "effect"
import { AppConfig, describeConfigError, SourceConfig } from "../../src/Config.js"

// SOURCE, MARKETS, the venues' URLs, RECORD_FRAMES and DEFAULT_MARKETS as the environment gives them.

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(SourceConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))).pipe(Effect.either)
const problem = (env: Record<string, string>) =>
  Effect.map(read(env), (r) => (Either.isLeft(r) ? describeConfigError(r.left).join("\n") : "accepted"))

describe("SOURCE and MARKETS", () => {
  it.effect("SOURCE is a comma list; each venue source gets its top ten by default", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* read({ SOURCE: " binance, coingecko ,kraken" }))
      expect(config.sources).toEqual([
        { _tag: "venue", venue: "binance" },
        { _tag: "coingecko" },
        { _tag: "venue", venue: "kraken" }
      ])
      const binance = config.markets.filter((m) => m.startsWith("binance:"))
      const kraken = config.markets.filter((m) => m.startsWith("kraken:"))
      expect(binance).toHaveLength(10)
      expect(kraken).toHaveLength(10)
      expect(config.markets).toHaveLength(20)
      expect(binance).toContain("binance:BTC-USDT")
      expect(binance.every((m) => m.endsWith("-USDT"))).toBe(true)
      expect(kraken).toContain("kraken:BTC-USD")
      expect(new Set(config.markets).size).toBe(20)
    })
  )

  it.effect("no venue source, no markets; the default SOURCE is auto", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* read({}))
      expect(config.sources).toEqual([{ _tag: "auto" }])
      expect(config.markets).toEqual([])
      expect(Option.isNone(config.recordFrames)).toBe(true)
    })
  )

  it.effect("MARKETS are read as people type them, kept in their order, canonical", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(
        yield* read({ SOURCE: "binance,coinbase", MARKETS: "Binance:btc-usdt, coinbase:ETH-USD,binance:ETH-USDT" })
      )
      expect(config.markets).toEqual(["binance:BTC-USDT", "coinbase:ETH-USD", "binance:ETH-USDT"])
    })
  )

  it.effect("bad lists are refused naming the variable and the entry", () =>
    Effect.gen(function* () {
      expect(yield* problem({ SOURCE: "binance,bitstamp" })).toMatch(/^invalid SOURCE: unknown source "bitstamp"/)
      expect(yield* problem({ SOURCE: "kraken,kraken" })).toMatch(/^invalid SOURCE: "kraken" is listed twice/)
      expect(yield* problem({ SOURCE: "replay:a.jsonl,replay:a.jsonl" })).toMatch(/listed twice/)
      expect(yield* problem({ SOURCE: "auto,simulator" })).toMatch(/^invalid SOURCE: "auto" already means/)
      expect(yield* problem({ SOURCE: "binance,,kraken" })).toMatch(/^invalid SOURCE: empty entry/)
      expect(yield* problem({ SOURCE: "replay:" })).toMatch(/^invalid SOURCE: unknown source "replay:"/)
      expect(yield* problem({ SOURCE: "binance", MARKETS: "kraken:BTC-USD" })).toMatch(
        /^invalid MARKETS: kraken:BTC-USD: its venue kraken is not in SOURCE/
      )
      expect(yield* problem({ SOURCE: "binance,kraken", MARKETS: "binance:BTC-USDT" })).toMatch(
        /^invalid MARKETS: SOURCE has kraken but MARKETS lists none of its markets/
      )
      expect(yield* problem({ SOURCE: "binance", MARKETS: "binance:BTC-USDT,binance:btc-usdt" })).toMatch(
        /binance:BTC-USDT is listed twice/
      )
      expect(yield* problem({ SOURCE: "binance", MARKETS: "binance:BTCUSDT" })).toMatch(
        /^invalid MARKETS: "binance:BTCUSDT" is not a market/
      )
      expect(yield* problem({ SOURCE: "coingecko,binance", MARKETS: "coingecko:BTC-USD,binance:BTC-USDT" })).toMatch(
        /coingecko and simulator take COINS/
      )
    })
  )

  it.effect("a replay may carry any venue's markets", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* read({ SOURCE: "replay:rec", MARKETS: "kraken:BTC-USD" }))
      expect(config.sources).toEqual([{ _tag: "replay", file: "rec" }])
      expect(config.markets).toEqual(["kraken:BTC-USD"])
    })
  )
})

describe("venue URLs, RECORD_FRAMES, DEFAULT_MARKETS", () => {
  it.effect("the public endpoints by default; any ws(s) / http(s) base otherwise, without its trailing slash", () =>
    Effect.gen(function* () {
      const defaults = Either.getOrThrow(yield* read({}))
      expect(defaults.venueUrls).toEqual({
        binance: { ws: "wss://stream.binance.com:9443", rest: "https://api.binance.com" },
        coinbase: { ws: "wss://ws-feed.exchange.coinbase.com", rest: "https://api.exchange.coinbase.com" },
        kraken: { ws: "wss://ws.kraken.com/v2", rest: "https://api.kraken.com" }
      })
      const local = Either.getOrThrow(
        yield* read({
          BINANCE_WS_URL: "ws://127.0.0.1:9001/",
          KRAKEN_REST_URL: "http://127.0.0.1:9002",
          RECORD_FRAMES: " /tmp/frames "
        })
      )
      expect(local.venueUrls.binance.ws).toBe("ws://127.0.0.1:9001")
      expect(local.venueUrls.kraken.rest).toBe("http://127.0.0.1:9002")
      expect(local.recordFrames).toEqual(Option.some("/tmp/frames"))
      expect(yield* problem({ COINBASE_WS_URL: "https://ws-feed.exchange.coinbase.com" })).toMatch(
        /^invalid COINBASE_WS_URL: expected a URL such as "wss:\/\/ws-feed\.exchange\.coinbase\.com"/
      )
      expect(yield* problem({ BINANCE_REST_URL: "api.binance.com" })).toMatch(/^invalid BINANCE_REST_URL/)
    })
  )

  it.effect("DEFAULT_MARKETS: none by default, a list of markets otherwise", () =>
    Effect.gen(function* () {
      const app = (env: Record<string, string>) =>
        Effect.withConfigProvider(AppConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))).pipe(Effect.either)
      expect(Either.getOrThrow(yield* app({})).defaultMarkets).toEqual([])
      expect(
        Either.getOrThrow(yield* app({ DEFAULT_MARKETS: "kraken:btc-usd,binance:ETH-USDT" })).defaultMarkets
      ).toEqual(["kraken:BTC-USD", "binance:ETH-USDT"])
      const bad = yield* app({ DEFAULT_MARKETS: "BTC" })
      expect(Either.isLeft(bad) && describeConfigError(bad.left).join("\n")).toMatch(/^invalid DEFAULT_MARKETS/)
    })
  )
})
