import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Metric, Stream } from "effect"
import { formatMarket, type MarketParts, marketParts } from "../../src/Domain/Market.js"
import { decodeBinanceFrame } from "../../src/Venues/Binance/Frames.js"
import { connectionsCounter } from "../../src/Venues/Metrics.js"
import { binanceClosing, krakenPing, plans, venueConnections } from "../../src/Venues/Protocol.js"
import { awaitFake, coinbaseBtc, connect, fakeVenue } from "./ConnectionSupport.js"

// What each venue is sent: written out by hand from research/venues.md, not from the code.

const binance = (n: number): Array<MarketParts> =>
  Array.from({ length: n }, (_, i) => ({ venue: "binance", base: `A${i}`, quote: "USDT" }))
const streamsOf = (m: MarketParts) => {
  const name = `${m.base.toLowerCase()}${m.quote.toLowerCase()}`
  return [`${name}@aggTrade`, `${name}@kline_1m`]
}

describe("Protocol", () => {
  it("binance: a combined-stream URL; ws, stream and trailing slashes in the base are the same origin", () => {
    const markets: Array<MarketParts> = [
      { venue: "binance", base: "BTC", quote: "USDT" },
      { venue: "binance", base: "ETH", quote: "BTC" },
      { venue: "coinbase", base: "BTC", quote: "USD" }
    ]
    for (const base of ["wss://h:9443", "wss://h:9443/", "wss://h:9443/ws", "wss://h:9443/stream/"]) {
      const [plan, ...more] = plans("binance", markets, base)
      expect(more).toEqual([])
      expect(plan?.url).toBe(
        "wss://h:9443/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m/ethbtc@aggTrade/ethbtc@kline_1m"
      )
      expect(plan?.subscribe).toEqual([])
      expect(plan?.markets).toEqual(markets.slice(0, 2))
      expect(plan?.maxAge !== undefined && Duration.toHours(Duration.decode(plan.maxAge))).toBe(23)
    }
    expect(plans("binance", [], "wss://h")).toEqual([])
    expect(plans("binance", binance(1)).map((p) => p.url)).toEqual([
      "wss://stream.binance.com:9443/stream?streams=a0usdt@aggTrade/a0usdt@kline_1m"
    ])
  })

  it("binance: 1024 streams (512 markets) a connection; past 200 in the URL, SUBSCRIBE messages of 200, 4 a second", () => {
    const markets = binance(1100)
    const [first, second, third, ...more] = plans("binance", markets, "wss://h")
    expect(more).toEqual([])
    expect([first?.markets.length, second?.markets.length]).toEqual([512, 512])
    expect(third?.markets).toEqual(markets.slice(1024))
    expect(first?.url).toBe(`wss://h/stream?streams=${markets.slice(0, 100).flatMap(streamsOf).join("/")}`)
    const messages = (first?.subscribe ?? []).map((t) => JSON.parse(t) as { method: string; params: Array<string> })
    expect(messages.map((m) => m.params.length)).toEqual([200, 200, 200, 200, 24])
    expect(messages.flatMap((m) => m.params)).toEqual(markets.slice(100, 512).flatMap(streamsOf))
    expect(messages.map((m) => m)).toEqual(
      messages.map((m, i) => ({ method: "SUBSCRIBE", params: m.params, id: i + 1 }))
    )
    expect(Duration.toMillis(Duration.decode(first?.sendSpacing ?? 0))).toBeGreaterThanOrEqual(200)
    // 76 markets: 152 streams, all in the URL.
    expect([second?.subscribe.length, third?.subscribe.length]).toEqual([5, 0])
  })

  it("coinbase and kraken: one connection, one subscribe", () => {
    const markets: Array<MarketParts> = [
      { venue: "coinbase", base: "BTC", quote: "USD" },
      { venue: "coinbase", base: "ETH", quote: "EUR" },
      { venue: "kraken", base: "BTC", quote: "USD" },
      { venue: "kraken", base: "DOGE", quote: "USD" }
    ]
    const [coinbase] = plans("coinbase", markets)
    expect(coinbase?.url).toBe("wss://ws-feed.exchange.coinbase.com")
    expect(coinbase?.subscribe.map((t) => JSON.parse(t))).toEqual([
      { type: "subscribe", product_ids: ["BTC-USD", "ETH-EUR"], channels: ["matches", "heartbeat"] }
    ])
    const [kraken] = plans("kraken", markets, "ws://k/v2")
    expect(kraken?.url).toBe("ws://k/v2")
    expect(kraken?.subscribe.map((t) => JSON.parse(t))).toEqual([
      { method: "subscribe", params: { channel: "trade", symbol: ["BTC/USD", "DOGE/USD"], snapshot: true }, req_id: 1 }
    ])
    expect(JSON.parse(kraken?.keepAlive?.message(3) ?? "")).toMatchObject({ method: "ping" })
    expect(JSON.parse(krakenPing(1)).req_id).not.toBe(JSON.parse(krakenPing(2)).req_id)
  })

  it("binance serverShutdown, plain, combined or wrapped, closes; nothing else does", () => {
    for (const text of [
      '{"e":"serverShutdown","E":1}',
      '{"stream":"x","data":{"e":"serverShutdown","E":1}}',
      '{"event":{"e":"serverShutdown","E":1}}'
    ])
      expect(binanceClosing(text)).toBe("serverShutdown")
    for (const text of ['{"e":"aggTrade","s":"serverShutdown"}', "serverShutdown", '{"e":"serverShutdownX"}'])
      expect(binanceClosing(text)).toBeUndefined()
  })

  it.scopedLive("binance against the fake: 250 markets, 100 by URL and 150 by two SUBSCRIBEs, all of them live", () =>
    Effect.gen(function* () {
      const parts = binance(250)
      const markets = parts.map(formatMarket)
      const fake = yield* fakeVenue({ venue: "binance", markets })
      const [plan] = plans("binance", parts, fake.wsUrl)
      if (plan === undefined) throw new Error("no plan")
      const conn = yield* connect({ ...plan, venue: "t-binance-250" })
      yield* awaitFake(() => fake.receivedCount(2), "two SUBSCRIBEs")
      const acks = yield* conn.texts(2)
      expect(acks.map(decodeBinanceFrame)).toEqual([
        { _tag: "Ack", id: 1, result: null },
        { _tag: "Ack", id: 2, result: null }
      ])
      const sent = [fake.send(markets[0]!, 1), fake.send(markets[249]!, 1)].flat()
      const got = (yield* conn.texts(2)).map(decodeBinanceFrame)
      expect(got.map((f) => (f._tag === "AggTrade" ? f.trade.symbol : f._tag))).toEqual(sent.map((t) => t.symbol))
    })
  )

  it.scopedLive("venueConnections: each plan with its events, the overrides applied", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const parts = [marketParts(coinbaseBtc), { venue: "binance", base: "BTC", quote: "USDT" } as const]
      const [conn, ...more] = venueConnections("coinbase", parts, fake.wsUrl, { venue: "t-vc", buffer: 8 })
      expect(more).toEqual([])
      expect(conn?.plan.markets).toEqual([marketParts(coinbaseBtc)])
      const events = yield* Stream.runCollect(Stream.take(conn?.events ?? Stream.empty, 2))
      expect([...events].map((e) => e._tag)).toEqual(["Open", "Frame"])
      expect(yield* Metric.value(connectionsCounter("t-vc"))).toEqual(expect.objectContaining({ count: 1 }))
    })
  )
})
