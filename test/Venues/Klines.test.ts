import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Queue, Stream } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import type { VenueEvent } from "../../src/Venues/GapFill.js"
import { fillMetrics } from "../../src/Venues/Metrics.js"
import { type FrameInput, fromFrames } from "../../src/Venues/Pipeline.js"
import { makeClient, type Transport } from "../../src/Venues/Rest.js"

// The pipeline alone, frames from a queue and REST from a function: a closed kline comes out in its market's order
// (after the trades received before it, and after the fill one of them started), an open one is dropped without
// being counted as skipped, a malformed one is skipped as kind "kline"; klines are counted per market.

const btc = "binance:BTC-USDT" as Market
const eth = "binance:ETH-USDT" as Market
const t0 = 1704067200000

const row = (id: number) => ({ a: id, p: "10.5", q: "0.25", f: id * 2, l: id * 2 + 1, T: t0 + id, m: false })
const frame = (text: string): FrameInput => ({ _tag: "Frame", at: t0 + 500, text })
const trade = (symbol: string, id: number) =>
  frame(
    JSON.stringify({
      stream: `${symbol.toLowerCase()}@aggTrade`,
      data: { e: "aggTrade", E: t0, s: symbol, ...row(id) }
    })
  )
const klineData = (symbol: string, closed: boolean, k: Record<string, unknown> = {}) => ({
  e: "kline",
  E: t0 + 60_001,
  s: symbol,
  k: {
    t: t0,
    T: t0 + 59_999,
    s: symbol,
    i: "1m",
    f: 2,
    L: 11,
    o: "10.5",
    c: "10.5",
    h: "10.5",
    l: "10.5",
    v: "1.25",
    n: 10,
    x: closed,
    q: "13.125",
    ...k
  }
})
const kline = (symbol: string, closed: boolean, k: Record<string, unknown> = {}) =>
  frame(JSON.stringify({ stream: `${symbol.toLowerCase()}@kline_1m`, data: klineData(symbol, closed, k) }))

/** Each event of the market as a short tag: the trade id, or K and the kline's first id. */
const tags = (events: ReadonlyArray<VenueEvent>, market: Market) =>
  events.flatMap(
    (e): Array<number | string> =>
      e._tag === "Trade" && e.trade.market === market
        ? [e.trade.tradeId]
        : e._tag === "Kline" && e.kline.market === market
          ? [`K${e.kline.firstTradeId}`]
          : e._tag === "Gap" && e.gap.market === market
            ? ["gap"]
            : []
  )
const count = (m: Metric.Metric.Counter<number>) => Effect.map(Metric.value(m), (s) => s.count)
const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow(), { discard: true })

describe("Pipeline klines", () => {
  it.effect("a closed kline waits behind the fill of the trades before it; open ones and bad ones are not events", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      // aggTrades over ids 1..10; the first call waits for `release`.
      const transport: Transport = (url) =>
        Effect.gen(function* () {
          yield* Deferred.await(release)
          const q = new URL(url, "http://x").searchParams
          const from = Number(q.get("fromId"))
          const rows = Array.from({ length: 10 }, (_, i) => from + i)
            .filter((id) => id <= 10)
            .map(row)
          return { at: t0, url, status: 200, text: JSON.stringify(rows), retryAfter: undefined }
        })
      const rest = yield* makeClient({ venue: "binance", transport, limits: { minSpacing: 0 } })
      const frames = yield* Queue.unbounded<FrameInput>()
      const events: Array<VenueEvent> = []
      const fiber = yield* fromFrames(Stream.fromQueue(frames), { venue: "binance", markets: [btc, eth], rest }).pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.fork
      )
      const skipped = (kind: string) =>
        count(Metric.tagged(Metric.tagged(fillMetrics.framesSkipped, "venue", "binance"), "kind", kind))
      const klines = (m: Market) =>
        count(Metric.tagged(Metric.tagged(fillMetrics.klines, "venue", "binance"), "market", m))
      const skippedBefore = yield* Effect.all([skipped("kline"), skipped("kline-open"), skipped("unsubscribed")])
      // BTC: 1, 2, then 5 (a jump: 3 and 4 are filled, held up by the REST answer), then its kline; ETH meanwhile.
      yield* Queue.offerAll(frames, [trade("BTCUSDT", 1), trade("BTCUSDT", 2), kline("BTCUSDT", false)])
      yield* Queue.offerAll(frames, [trade("BTCUSDT", 5), kline("BTCUSDT", true), trade("BTCUSDT", 6)])
      yield* Queue.offerAll(frames, [trade("ETHUSDT", 1), kline("ETHUSDT", true, { f: 7 }), trade("ETHUSDT", 2)])
      yield* Queue.offerAll(frames, [kline("BTCUSDT", true, { o: "-1" }), kline("XRPUSDT", true)])
      yield* settle
      expect(tags(events, btc)).toEqual([1, 2])
      expect(tags(events, eth)).toEqual([1, "K7", 2])
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect(tags(events, btc)).toEqual([1, 2, 3, 4, 5, "K2", 6])
      yield* Queue.shutdown(frames)
      yield* Fiber.interrupt(fiber)
      const k = events.find((e) => e._tag === "Kline" && e.kline.market === btc)
      expect(k?._tag === "Kline" && { ...k.kline }).toEqual({
        type: "kline",
        market: btc,
        interval: "1m",
        bucketStart: t0,
        open: "10.5",
        high: "10.5",
        low: "10.5",
        close: "10.5",
        volume: "1.25",
        firstTradeId: 2,
        lastTradeId: 11,
        tradeCount: 10,
        receivedAt: t0 + 500
      })
      const btcTrade = events.find((e) => e._tag === "Trade" && e.trade.tradeId === 3)
      expect(btcTrade?._tag === "Trade" && [btcTrade.trade.firstTradeId, btcTrade.trade.lastTradeId]).toEqual([6, 7])
      const skippedAfter = yield* Effect.all([skipped("kline"), skipped("kline-open"), skipped("unsubscribed")])
      // The bad kline is skipped as a kline, XRP's as unsubscribed; the open ones not at all.
      expect(skippedAfter.map((n, i) => n - (skippedBefore[i] ?? 0))).toEqual([1, 0, 1])
      expect([yield* klines(btc), yield* klines(eth)]).toEqual([1, 1])
    })
  )
})
