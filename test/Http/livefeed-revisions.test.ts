import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Candle } from "../../src/Domain/Candle.js"
import type { CandleStatus, GapRef } from "../../src/Domain/Completeness.js"
import type { Market } from "../../src/Domain/Market.js"
import type { Update } from "../../src/Domain/Update.js"
import { onMemoryCache, type Recorded, recorder } from "./livefeed-support.js"

// Revisions over the live feed, on the embedded cache: a provisional candle goes out again with each change, its
// closing (status final or gap) once as `final`, and nothing for that candle after it, even when the processor
// replays what it had not checkpointed (livefeed-pipeline.test.ts: the same behind the processor's own fast path).

const t0 = Date.UTC(2026, 11, 1)
const btc = "binance:BTC-USDT" as Market
const noIndicators = { sma20: null, sma50: null, ema12: null, ema26: null, rsi14: null, bollinger: null }

const candle = (
  bucketStart: number,
  close: number,
  status: CandleStatus = "provisional",
  gaps: ReadonlyArray<GapRef> = []
): Update => ({
  _tag: "candle",
  candle: new Candle({
    market: btc,
    symbol: "BTC",
    interval: "1m",
    bucketStart,
    open: 100,
    high: Math.max(100, close),
    low: Math.min(100, close),
    close,
    volume: 1,
    tickCount: 2,
    vwap: 100,
    status,
    gaps: [...gaps],
    firstTradeId: 1,
    lastTradeId: 2
  }),
  indicators: noIndicators
})
const m = (i: number) => t0 + i * 60_000

const candleEvents = (events: ReadonlyArray<Recorded>) =>
  events
    .filter((e) => e.event === "candle" || e.event === "final")
    .map((e) => `${e.event} ${(e.data["bucketStart"] as number) - t0} ${e.data["close"]} ${e.data["status"]}`)

describe("LiveFeed revisions", () => {
  it.scoped("sends each revision of a provisional candle, its closing once as `final`, and no repeat after it", () =>
    Effect.gen(function* () {
      const { feed, send, write } = yield* onMemoryCache()
      const c = recorder()
      yield* feed.attach(c.client, {})
      yield* send(candle(m(0), 101))
      // a late trade inside the lateness: the same candle with new values
      yield* send(candle(m(0), 99))
      // the same values again are sent again too (nothing in the feed compares values)
      yield* send(candle(m(0), 99), candle(m(1), 105))
      yield* send(candle(m(0), 98, "final"))
      // the processor replays after a restart: the final again, and the provisional values before it
      yield* write(candle(m(0), 101), candle(m(0), 98, "final"))
      yield* send(candle(m(0), 99), candle(m(1), 106))
      expect(candleEvents(c.events())).toEqual([
        "candle 0 101 provisional",
        "candle 0 99 provisional",
        "candle 0 99 provisional",
        `candle ${60_000} 105 provisional`,
        "final 0 98 final",
        `candle ${60_000} 106 provisional`
      ])
      // the ids increase; an id is its update's place in the shared feed, so a repeat (no event) leaves a hole
      expect(c.ids()).toEqual([...c.ids()].sort((a, b) => a - b))
      expect(new Set(c.ids()).size).toBe(c.ids().length)
    })
  )

  it.scoped("sends finals that arrive out of bucket order once each, a `gap` candle as `final` with its gaps", () =>
    Effect.gen(function* () {
      const { feed, send } = yield* onMemoryCache()
      const c = recorder()
      yield* feed.attach(c.client, {})
      yield* send(candle(m(1), 101), candle(m(2), 102))
      // the cache writer keeps candles in the order first touched: minute 2 closes before minute 1 reaches the feed
      yield* send(candle(m(2), 102, "final"), candle(m(1), 101, "gap", [{ fromId: 3, toId: 9 }]))
      yield* send(candle(m(1), 101, "gap", [{ fromId: 3, toId: 9 }]), candle(m(2), 102, "final"), candle(m(1), 101))
      yield* send(candle(m(3), 103))
      expect(candleEvents(c.events())).toEqual([
        `candle ${60_000} 101 provisional`,
        `candle ${120_000} 102 provisional`,
        `final ${120_000} 102 final`,
        `final ${60_000} 101 gap`,
        `candle ${180_000} 103 provisional`
      ])
      const [, , final, gap] = c.updates()
      // the same data as a candle event: the candle's fields and its indicators
      expect(Object.keys(final!.data)).toEqual(Object.keys(c.updates()[0]!.data))
      expect(gap!.data).toMatchObject({ status: "gap", gaps: [{ fromId: 3, toId: 9 }], indicators: noIndicators })
      // a client resuming gets the final events from the buffer as they were sent
      const late = recorder()
      yield* feed.attach(late.client, { lastEventId: String(final!.id - 1) })
      expect(late.updates().slice(0, 2)).toEqual([final, gap])
    })
  )
})
