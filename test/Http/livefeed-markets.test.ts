import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Candle } from "../../src/Domain/Candle.js"
import { Gap } from "../../src/Domain/Gap.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"
import { filterKeys } from "../../src/Http/Markets.js"
import { onMemoryCache, recorder } from "./livefeed-support.js"

// The live feed on markets: trades relayed as `tick` events with their market, trade id and side; `gap` events;
// subscriptions by market and by bare symbol (every market of that base). On the embedded cache.

const t0 = 1_764_000_000_000
const binance = "binance:BTC-USDT" as Market
const coinbase = "coinbase:BTC-USD" as Market

const trade = (market: Market, tradeId: number): Update => ({
  _tag: "tick",
  tick: new Tick({
    symbol: market.split(":")[1]!.split("-")[0]!,
    coinId: market.split(":")[1]!.replace("-", ""),
    price: 100 + tradeId,
    volume: 0.25,
    eventTime: t0 + tradeId,
    source: market.split(":")[0] as "binance",
    ingestTime: t0 + tradeId + 2,
    market,
    tradeId,
    side: tradeId % 2 === 0 ? "buy" : "sell"
  })
})
const legacy: Update = {
  _tag: "tick",
  tick: new Tick({ symbol: "BTC", coinId: "bitcoin", price: 99, eventTime: t0, source: "simulator", ingestTime: t0 })
}
const candle = (market: Market): Update => ({
  _tag: "candle",
  candle: new Candle({
    market,
    symbol: "BTC",
    interval: "1m",
    bucketStart: t0 - (t0 % 60_000),
    open: 101,
    high: 102,
    low: 101,
    close: 102,
    volume: 0.5,
    tickCount: 2,
    vwap: 101.5,
    status: "provisional",
    gaps: [],
    firstTradeId: null,
    lastTradeId: null
  }),
  indicators: { sma20: null, sma50: null, ema12: null, ema26: null, rsi14: null, bollinger: null }
})
const gap = (market: Market): Update => ({
  _tag: "gap",
  gap: new Gap({
    type: "gap",
    market,
    fromId: 3,
    toId: 9,
    fromTime: t0 + 2,
    toTime: t0 + 10,
    reason: "rest-failed",
    detectedAt: t0 + 50
  })
})

const setup = onMemoryCache()

describe("LiveFeed on markets", () => {
  it.scoped("relays trades as tick events with market, trade id and side; gaps as gap events with an id", () =>
    Effect.gen(function* () {
      const { feed, send } = yield* setup
      const all = recorder()
      yield* feed.attach(all.client, {})
      yield* send(trade(binance, 7), gap(binance), candle(binance), legacy)
      const events = all.updates()
      expect(events.map((e) => [e.id, e.event])).toEqual([
        [1, "tick"],
        [2, "gap"],
        [3, "candle"],
        [4, "tick"]
      ])
      expect(events[0]!.data).toMatchObject({ market: binance, symbol: "BTC", tradeId: 7, side: "sell", volume: 0.25 })
      expect(events[1]!.data).toEqual({
        type: "gap",
        market: binance,
        fromId: 3,
        toId: 9,
        fromTime: t0 + 2,
        toTime: t0 + 10,
        reason: "rest-failed",
        detectedAt: t0 + 50
      })
      expect(events[2]!.data).toMatchObject({ market: binance, symbol: "BTC", close: 102, indicators: { sma20: null } })
      // a sample from before markets goes out with its market written out
      expect(events[3]!.data).toMatchObject({ market: "simulator:BTC-USD", symbol: "BTC", price: 99 })
    })
  )

  it.scoped("filters by market, and by bare symbol (every market of that base), on live and replayed events", () =>
    Effect.gen(function* () {
      const { feed, send } = yield* setup
      const one = recorder([...filterKeys([{ _tag: "Market", market: binance }])])
      const btc = recorder([...filterKeys([{ _tag: "Bare", symbol: "BTC" }])])
      const eth = recorder(["ETH"])
      for (const r of [one, btc, eth]) yield* feed.attach(r.client, {})
      const batch = [trade(binance, 1), trade(coinbase, 1), gap(coinbase), gap(binance), candle(coinbase), legacy]
      yield* send(...batch)
      expect(one.seen()).toEqual([`tick ${binance}`, `gap ${binance}`])
      expect(btc.seen()).toEqual([
        `tick ${binance}`,
        `tick ${coinbase}`,
        `gap ${coinbase}`,
        `gap ${binance}`,
        `candle ${coinbase}`,
        "tick simulator:BTC-USD"
      ])
      expect(eth.seen()).toEqual([])

      // a client resuming with Last-Event-ID gets the missed events of its market only
      const late = recorder([coinbase])
      yield* feed.attach(late.client, { lastEventId: String(2) })
      expect(late.updates().map((e) => [e.id, e.event])).toEqual([
        [3, "gap"],
        [5, "candle"]
      ])
    })
  )
})
