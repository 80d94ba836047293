import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Logger, Schema, Stream } from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { Gap, GapJson } from "../../src/Domain/Gap.js"
import { Kline, KlineJson } from "../../src/Domain/Kline.js"
import { Market } from "../../src/Domain/Market.js"
import { TickJson } from "../../src/Domain/Tick.js"
import { Trade } from "../../src/Domain/Trade.js"
import * as Producer from "../../src/Producer.js"
import * as Venues from "../../src/Sources/Venues.js"

// Venue events through the producer: trades as ticks (Binance's with their raw trade ids), gaps as Gap JSON and klines
// as Kline JSON, keyed by market, in order per market.

const topic = "records-test"
const quiet = Logger.remove(Logger.defaultLogger)
const epoch = Date.UTC(2025, 0, 1)
const markets = ["binance:BTC-USDT", "coinbase:ETH-USD", "kraken:BTC-USD"].map((m) => Schema.decodeSync(Market)(m))

const trade = (market: Market, id: number): Venues.VenueEvent => ({
  _tag: "Trade",
  trade: new Trade({
    market,
    tradeId: id,
    price: { value: 100 + id / 100, text: (100 + id / 100).toFixed(2) },
    size: { value: 0.5, text: "0.5" },
    side: id % 2 === 0 ? "buy" : "sell",
    eventTime: epoch + id,
    receiptTime: epoch + id + 3,
    ...(market.startsWith("binance:") ? { firstTradeId: id * 3, lastTradeId: id * 3 + 2 } : {})
  })
})
const kline = (market: Market): Venues.VenueEvent => ({
  _tag: "Kline",
  kline: new Kline({
    type: "kline",
    market,
    interval: "1m",
    bucketStart: epoch,
    open: "100.01",
    high: "100.12",
    low: "100.01",
    close: "100.12",
    volume: "4.50",
    firstTradeId: 3,
    lastTradeId: 38,
    tradeCount: 36,
    receivedAt: epoch + 60_001
  })
})
const gap = (market: Market, fromId: number, toId: number): Venues.VenueEvent => ({
  _tag: "Gap",
  gap: new Gap({
    type: "gap",
    market,
    fromId,
    toId,
    fromTime: epoch + fromId - 1,
    toTime: epoch + toId + 1,
    reason: "not-served",
    detectedAt: epoch + toId + 10
  })
})

/** Per market: ids 1..5, a gap 6..8, ids 9..12, a kline, interleaved across markets. */
const events = markets.flatMap((m) => [
  ...[1, 2, 3, 4, 5].map((id) => trade(m, id)),
  gap(m, 6, 8),
  ...[9, 10, 11, 12].map((id) => trade(m, id)),
  kline(m)
])
const interleaved = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].flatMap((i) => markets.map((_, k) => events[k * 11 + i]!))

const typeOf = (value: string) => (JSON.parse(value) as { type?: unknown }).type

describe("producer: venue records", () => {
  it.live("trades reach the bus as ticks and gaps as gap records, keyed by market, each market in order", () =>
    Effect.gen(function* () {
      const bus = yield* MemoryBus.make()
      yield* bus.ensureTopic(topic, 3)
      const records = Stream.fromIterable(interleaved).pipe(Stream.map(Venues.toRecord))
      yield* Producer.publishStream(records, { topic, bufferSize: 7, maxBatch: 4 }).pipe(
        Effect.provideService(Bus, bus),
        Effect.provide(quiet)
      )
      const read = yield* bus.consume({ topic, groupId: "read", onAssign: () => Effect.succeed(new Map()) }).pipe(
        Stream.flatMap((e) => (e._tag === "Records" ? Stream.fromIterable(e.records) : Stream.empty)),
        Stream.take(interleaved.length),
        Stream.runCollect,
        Effect.map(Chunk.toArray)
      )
      for (const market of markets) {
        const mine = read.filter((r) => r.key === market)
        const seen = mine.map((r) => {
          if (typeOf(r.value) === "gap") {
            const g = Schema.decodeSync(GapJson)(r.value)
            return `gap ${g.market} ${g.fromId}-${g.toId} ${g.reason}`
          }
          if (typeOf(r.value) === "kline") {
            const k = Schema.decodeSync(KlineJson)(r.value)
            return `kline ${k.market} ${k.bucketStart} ${k.open} ${k.close} ${k.volume} ${k.firstTradeId}-${k.lastTradeId}`
          }
          const t = Schema.decodeSync(TickJson)(r.value)
          const ids = t.firstTradeId === undefined ? "" : ` ${t.firstTradeId}-${t.lastTradeId}`
          return `${t.market} ${t.tradeId} ${t.side} ${t.price} ${t.volume} ${t.source} ${t.symbol} ${t.coinId}${ids}`
        })
        const [venue, pair] = market.split(":") as [string, string]
        const base = pair.split("-")[0]
        const coinId = { binance: "BTCUSDT", coinbase: "ETH-USD", kraken: "BTC/USD" }[venue]
        const ids = (id: number) => (venue === "binance" ? ` ${id * 3}-${id * 3 + 2}` : "")
        const tick = (id: number) =>
          `${market} ${id} ${id % 2 === 0 ? "buy" : "sell"} ${100 + id / 100} 0.5 ${venue} ${base} ${coinId}${ids(id)}`
        expect(seen).toEqual([
          ...[1, 2, 3, 4, 5].map(tick),
          `gap ${market} 6-8 not-served`,
          ...[9, 10, 11, 12].map(tick),
          `kline ${market} ${epoch} 100.01 100.12 4.50 3-38`
        ])
        // The kline record is the Kline class's JSON, as it is.
        expect(JSON.parse(mine.at(-1)?.value ?? "null")).toEqual(JSON.parse(JSON.stringify(kline(market))).kline)
      }
    })
  )
})
