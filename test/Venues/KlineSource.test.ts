import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Kline } from "../../src/Domain/Kline.js"
import type { Market } from "../../src/Domain/Market.js"
import { marketOfEvent, type VenueEvent } from "../../src/Venues/GapFill.js"
import { replayLines } from "../../src/Venues/Replay.js"
import { type FakeKline, type FakeVenue, startFakeVenue } from "../support/FakeVenue.js"
import { opened, startRun, tradeIds } from "../support/VenueRun.js"

// Binance klines through the live path against the fake venue (trades 7 s apart: a kline every 8 or 9 trades), with a
// fill from REST, a disconnect and a lost range: each closed kline comes out once, after every trade of its minute,
// as the fake sent it; open klines never. The run's recording replays to the same events, klines included.

const a = "binance:BTC-USDT" as Market
const b = "binance:ETH-USDT" as Market
const minute = 60_000

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})

const klinesOf = (events: ReadonlyArray<VenueEvent>, market: Market): Array<Kline> =>
  events.flatMap((e) => (e._tag === "Kline" && e.kline.market === market ? [e.kline] : []))
const fields = (k: Kline | FakeKline) => [
  k.bucketStart,
  k.open,
  k.high,
  k.low,
  k.close,
  k.volume,
  k.firstTradeId,
  k.lastTradeId,
  k.tradeCount
]
/** Each market's events as JSON, in order (the order across markets is not kept). */
const plain = (events: ReadonlyArray<VenueEvent>) => {
  const byMarket: Record<string, Array<unknown>> = {}
  for (const e of events) (byMarket[marketOfEvent(e)] ??= []).push(JSON.parse(JSON.stringify(e)))
  return byMarket
}

describe("Binance klines from the source", () => {
  it.live("each closed kline once, after its minute's trades, across a fill and a reconnect; replayed the same", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.promise(() => startFakeVenue({ venue: "binance", markets: [a, b], spacingMs: 7000 }))
      fakes.push(fake)
      const run = yield* startRun(fake, [a, b])
      yield* opened(run, "binance", 1)
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 10)
      fake.send(b, 5)
      fake.gap(a, 12) // REST only, over two minutes
      fake.send(a, 3)
      yield* run.until((es) => tradeIds(es, a).at(-1) === 1024, "the fill")
      fake.disconnect()
      fake.send(a, 9) // nobody listening: filled after the reconnect
      fake.send(b, 10)
      yield* opened(run, "binance", 2)
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 2)
      fake.send(b, 2)
      fake.lose(a, 2)
      fake.send(a, 10)
      const done = (es: ReadonlyArray<VenueEvent>) =>
        [a, b].every(
          (m) =>
            tradeIds(es, m).at(-1) === fake.trades(m).at(-1)?.tradeId &&
            klinesOf(es, m).length === fake.klines(m).length
        )
      yield* run.until(done, "the last trades and klines")
      yield* run.stop
      for (const m of [a, b]) {
        const events = run.events.filter((e) => marketOfEvent(e) === m)
        expect(tradeIds(events, m)).toEqual(fake.trades(m).map((t) => t.tradeId))
        const klines = klinesOf(events, m)
        expect(klines.length, m).toBeGreaterThanOrEqual(2)
        expect(klines.map(fields), m).toEqual(fake.klines(m).map(fields))
        for (const k of klines) {
          const at = events.findIndex((e) => e._tag === "Kline" && e.kline === k)
          const ofMinute = events.flatMap((e, i) =>
            e._tag === "Trade" && e.trade.eventTime >= k.bucketStart && e.trade.eventTime < k.bucketStart + minute
              ? [i]
              : []
          )
          const lastOfMinute = Math.max(-1, ...ofMinute)
          expect(at, `${m} ${new Date(k.bucketStart).toISOString()}`).toBeGreaterThan(lastOfMinute)
        }
      }
      expect(run.events.some((e) => e._tag === "Gap")).toBe(true)
      // Open klines were sent too, and are not events.
      expect(run.lines.some((l) => l.kind === "frame" && l.text.includes('"x":false'))).toBe(true)
      const replayed = yield* Stream.runCollect(replayLines("binance", run.lines, { markets: [a, b] }))
      expect(plain([...replayed])).toEqual(plain(run.events))
    })
  )
})
