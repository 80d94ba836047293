import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { fillMetrics } from "../../src/Venues/Metrics.js"
import { type FakeVenue, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"
import { gapRanges, opened, startRun, tradeIds } from "../support/VenueRun.js"

// Gap-fill against the fake venue: the source's trades must be the fake's own list, once each, in id order, with a
// gap record exactly where the fake lost ids. Waits are on the events, bounded; nothing is timed.

const marketsOf: Record<FakeVenueName, ReadonlyArray<Market>> = {
  binance: ["binance:BTC-USDT" as Market, "binance:ETH-USDT" as Market],
  coinbase: ["coinbase:BTC-USD" as Market, "coinbase:ETH-USD" as Market],
  kraken: ["kraken:BTC-USD" as Market, "kraken:ETH-USD" as Market]
}

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})
const start = (venue: FakeVenueName) =>
  Effect.promise(async () => {
    const fake = await startFakeVenue({ venue, markets: marketsOf[venue] })
    fakes.push(fake)
    return fake
  })
const idsOf = (trades: ReadonlyArray<{ readonly tradeId: number }>) => trades.map((t) => t.tradeId)

describe.each(["binance", "coinbase", "kraken"] as const)("GapFill %s", (venue) => {
  const [a, b] = marketsOf[venue] as [Market, Market]

  it.live("fills a fillable jump from REST in order, and an unfillable one becomes a gap with its ids", () =>
    Effect.gen(function* () {
      const fake = yield* start(venue)
      const run = yield* startRun(fake, [a, b])
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 3)
      fake.send(b, 2)
      fake.gap(a, 4)
      fake.send(a, 2)
      fake.lose(a, 3)
      fake.send(a, 2)
      fake.send(b, 1)
      yield* run.until((es) => tradeIds(es, a).at(-1) === 1013 && tradeIds(es, b).at(-1) === 1002, "the last trades")
      yield* run.stop
      expect(tradeIds(run.events, a)).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1012, 1013])
      expect(tradeIds(run.events, a)).toEqual(idsOf(fake.trades(a)))
      expect(gapRanges(run.events, a)).toEqual([[1009, 1011, "not-served"]])
      expect(tradeIds(run.events, b)).toEqual([1000, 1001, 1002])
      expect(gapRanges(run.events, b)).toEqual([])
      const gap = run.events.find((e) => e._tag === "Gap")
      const byId = new Map(fake.trades(a).map((t) => [t.tradeId, t]))
      expect(gap?._tag === "Gap" && [gap.gap.fromTime, gap.gap.toTime]).toEqual([
        byId.get(1008)?.time,
        byId.get(1012)?.time
      ])
      // Filled trades carry the venue's own values.
      const filled = run.events.flatMap((e) =>
        e._tag === "Trade" && e.trade.tradeId === 1004 && e.trade.market === a ? [e.trade] : []
      )
      const truth = byId.get(1004)
      expect(filled.map((t) => [t.price.text, t.size.text, t.side, t.eventTime])).toEqual([
        [truth?.price, truth?.size, truth?.side, truth?.time]
      ])
    })
  )

  it.live("drops a reconnect's overlap and resent frames; fills what was sent while disconnected", () =>
    Effect.gen(function* () {
      const fake = yield* start(venue)
      const run = yield* startRun(fake, [a])
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 5)
      fake.duplicate(3)
      fake.reorder(3)
      yield* run.until((es) => tradeIds(es, a).length === 5, "the first trades")
      fake.disconnect()
      fake.send(a, 4) // to nobody
      yield* opened(run, venue, 2)
      fake.send(a, 2)
      yield* run.until((es) => tradeIds(es, a).at(-1) === 1010, "the trades after the reconnect")
      yield* run.stop
      expect(tradeIds(run.events, a)).toEqual(idsOf(fake.trades(a)))
      expect(gapRanges(run.events, a)).toEqual([])
    })
  )

  it.live("skips unknown and malformed frames, counted by kind, and goes on", () =>
    Effect.gen(function* () {
      const fake = yield* start(venue)
      const counter = (kind: string) =>
        Metric.tagged(Metric.tagged(fillMetrics.framesSkipped, "venue", venue), "kind", kind)
      const before = (yield* Metric.value(counter("json"))).count
      const run = yield* startRun(fake, [a])
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 1)
      fake.raw("{not json")
      fake.raw("{not json either")
      fake.raw(JSON.stringify({ e: "depthUpdate", type: "ticker", channel: "book", s: "X" }))
      fake.send(a, 1)
      yield* run.until((es) => tradeIds(es, a).length === 2, "the trades around the garbage")
      yield* run.stop
      expect((yield* Metric.value(counter("json"))).count - before).toBe(2)
      expect(tradeIds(run.events, a)).toEqual([1000, 1001])
    })
  )

  it.live.runIf(venue === "coinbase")("a heartbeat past the last trade shows a tail gap without another trade", () =>
    Effect.gen(function* () {
      const fake = yield* start(venue)
      const run = yield* startRun(fake, [a])
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 2)
      fake.gap(a, 2)
      fake.lose(a, 2)
      yield* run.until((es) => tradeIds(es, a).length === 2, "the first trades")
      // The first heartbeat is only noted (a match may cross it on the way); the second one fills.
      fake.heartbeat()
      fake.heartbeat()
      yield* run.until((es) => gapRanges(es, a).length === 1, "the tail gap")
      yield* run.stop
      expect(tradeIds(run.events, a)).toEqual([1000, 1001, 1002, 1003])
      expect(gapRanges(run.events, a)).toEqual([[1004, 1005, "not-served"]])
    })
  )

  it.live("fills from where the bus left off (lastIds) on start", () =>
    Effect.gen(function* () {
      const fake = yield* start(venue)
      const made = fake.gap(a, 6)
      const at = made[2]
      if (at === undefined) throw new Error("no trade")
      const run = yield* startRun(fake, [a], { lastIds: new Map([[a, { id: at.tradeId, time: at.time }]]) })
      yield* Effect.promise(() => fake.subscribed())
      fake.send(a, 2)
      yield* run.until((es) => tradeIds(es, a).at(-1) === 1007, "the live trades")
      yield* run.stop
      expect(tradeIds(run.events, a)).toEqual([1003, 1004, 1005, 1006, 1007])
    })
  )
})
