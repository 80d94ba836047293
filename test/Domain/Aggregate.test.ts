import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import { applyTick, CandleState, candleKey, foldCandles, toCandle } from "../../src/Domain/Aggregate.js"
import type { Candle } from "../../src/Domain/Candle.js"
import { bucketStart, type Interval, intervalMillis, intervals } from "../../src/Domain/Interval.js"
import type { Market } from "../../src/Domain/Market.js"
import { marketOf, Tick } from "../../src/Domain/Tick.js"

// Failures also print fast-check's own seed and path; PROPERTY_SEED=<n> replays a run.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const numRuns = 200
const params = { fastCheck: { seed, numRuns } }

const epoch = Date.UTC(2024, 0, 1)
const day = 86_400_000

const eventTimeArb = fc.oneof(
  fc.integer({ min: epoch, max: epoch + 3 * day }),
  fc.integer({ min: epoch + day - 5 * 60_000, max: epoch + day + 5 * 60_000 }), // dense around a day boundary
  fc.constantFrom(epoch, epoch + 59_999, epoch + 60_000, epoch + day) // exact collisions, to exercise the price tie-break
)

const tickArb = fc
  .record({
    symbol: fc.constantFrom("BTC", "ETH", "SOL"),
    price: fc.oneof(fc.double({ min: 1e-4, max: 1e6, noNaN: true }), fc.constantFrom(1, 2, 100)),
    volume: fc.option(fc.double({ min: 0, max: 1e4, noNaN: true }), { nil: undefined }),
    eventTime: eventTimeArb,
    source: fc.constantFrom("coingecko" as const, "simulator" as const, "replay" as const)
  })
  .map(
    ({ volume, ...t }) =>
      new Tick({
        ...t,
        ...(volume === undefined ? {} : { volume }),
        coinId: t.symbol.toLowerCase(),
        ingestTime: t.eventTime + 1000
      })
  )

/** Ticks where some appear two or three times (the same object), as a redelivery would. */
const ticksWithDuplicatesArb = fc
  .array(fc.tuple(tickArb, fc.constantFrom(1, 1, 1, 2, 3)), { maxLength: 80 })
  .map((pairs) => pairs.flatMap(([tick, times]) => Array.from({ length: times }, () => tick)))

/** A list together with an arbitrary permutation of it. */
const withShuffle = <A>(arb: fc.Arbitrary<ReadonlyArray<A>>) =>
  arb.chain((xs) =>
    fc.tuple(fc.constant(xs), fc.shuffledSubarray([...xs], { minLength: xs.length, maxLength: xs.length }))
  )

const foldIncrementally = (ticks: Iterable<Tick>, ivs: ReadonlyArray<Interval>): Map<string, Candle> => {
  const states = new Map<string, { market: Market; state: CandleState }>()
  for (const tick of ticks) {
    const market = marketOf(tick)
    for (const interval of ivs) {
      const key = candleKey(market, interval, bucketStart(interval, tick.eventTime))
      states.set(key, { market, state: applyTick(states.get(key)?.state, tick, interval) })
    }
  }
  return new Map([...states].map(([key, { market, state }]) => [key, toCandle(state, market, "final", [])]))
}

const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))

const expectSameCandles = (actual: Map<string, Candle>, expected: Map<string, Candle>) => {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort())
  for (const [key, e] of expected) {
    const a = actual.get(key)
    expect(a).toBeDefined()
    if (a === undefined) return
    // open/high/low/close are picked, not computed, so they must match exactly.
    expect({ ...a, volume: 0, vwap: 0 }).toEqual({ ...e, volume: 0, vwap: 0 })
    expect(close(a.volume, e.volume), `${key} volume ${a.volume} vs ${e.volume}`).toBe(true)
    expect(close(a.vwap, e.vwap), `${key} vwap ${a.vwap} vs ${e.vwap}`).toBe(true)
  }
}

const byEventTimeThenPrice = (a: Tick, b: Tick) => a.eventTime - b.eventTime || a.price - b.price

describe("Aggregate", () => {
  it("builds a candle from hand-picked ticks", () => {
    const t = (eventTime: number, price: number, volume?: number) =>
      new Tick({
        symbol: "BTC",
        coinId: "bitcoin",
        price,
        ...(volume === undefined ? {} : { volume }),
        eventTime,
        source: "simulator",
        ingestTime: eventTime
      })
    const ticks = [t(epoch + 30_000, 12, 1), t(epoch + 1_000, 10, 3), t(epoch + 59_000, 11), t(epoch + 1_000, 9)]
    const candle = foldCandles(ticks, ["1m"]).get(candleKey("simulator:BTC-USD", "1m", epoch))
    expect(candle).toMatchObject({
      bucketStart: epoch,
      open: 9, // same event time as 10: the lower price opens
      high: 12,
      low: 9,
      close: 11,
      volume: 4,
      tickCount: 4,
      vwap: (12 * 1 + 10 * 3) / 4
    })
    expect(foldIncrementally(ticks, ["1m"]).get(candleKey("simulator:BTC-USD", "1m", epoch))).toEqual(candle)
    // No tick with a volume: VWAP is the plain mean.
    expect(
      foldCandles([t(epoch, 1), t(epoch + 1, 2)], ["1m"]).get(candleKey("simulator:BTC-USD", "1m", epoch))?.vwap
    ).toBe(1.5)
  })

  it("rejects a tick from another bucket", () => {
    const tick = (eventTime: number) =>
      new Tick({ symbol: "BTC", coinId: "bitcoin", price: 1, eventTime, source: "simulator", ingestTime: eventTime })
    const state = applyTick(undefined, tick(epoch), "1m")
    expect(() => applyTick(state, tick(epoch + 60_000), "1m")).toThrow(/not in candle/)
    expect(() => applyTick(state, tick(epoch), "5m")).toThrow(/not in candle/)
  })

  it.prop(
    "applyTick in any order equals foldCandles",
    [withShuffle(ticksWithDuplicatesArb)],
    ([[ticks, shuffled]]) => {
      expectSameCandles(foldIncrementally(shuffled, intervals), foldCandles(ticks, intervals))
    },
    params
  )

  it.prop(
    "open and close are the min and max (eventTime, price) ticks; low <= open, close <= high",
    [ticksWithDuplicatesArb],
    ([ticks]) => {
      const candles = foldCandles(ticks, intervals)
      for (const candle of candles.values()) {
        const members = ticks
          .filter(
            (t) => marketOf(t) === candle.market && bucketStart(candle.interval, t.eventTime) === candle.bucketStart
          )
          .sort(byEventTimeThenPrice)
        expect(candle.open).toBe(members[0]?.price)
        expect(candle.close).toBe(members.at(-1)?.price)
        expect(candle.tickCount).toBe(members.length)
        expect(candle.low).toBeLessThanOrEqual(Math.min(candle.open, candle.close))
        expect(candle.high).toBeGreaterThanOrEqual(Math.max(candle.open, candle.close))
        expect(candle.low).toBeLessThanOrEqual(candle.vwap)
        expect(candle.vwap).toBeLessThanOrEqual(candle.high)
      }
    },
    params
  )

  it.prop(
    "buckets are aligned and tick counts (duplicates included) sum to the ticks per interval",
    [ticksWithDuplicatesArb],
    ([ticks]) => {
      const candles = [...foldCandles(ticks, intervals).values()]
      for (const interval of intervals) {
        const ofInterval = candles.filter((c) => c.interval === interval)
        expect(ofInterval.reduce((n, c) => n + c.tickCount, 0)).toBe(ticks.length)
        for (const c of ofInterval) {
          expect(c.bucketStart % intervalMillis[interval]).toBe(0)
          expect(candleKey(c.market, c.interval, c.bucketStart)).toMatch(/^[a-z]+:[A-Z]+-USD\|(1m|5m|15m|1h|1d)\|\d+$/)
        }
      }
    },
    params
  )

  it.prop(
    "a 1d candle's volume is the sum of its 1m candles' volumes",
    [ticksWithDuplicatesArb],
    ([ticks]) => {
      const candles = [...foldIncrementally(ticks, ["1m", "1d"]).values()]
      for (const daily of candles.filter((c) => c.interval === "1d")) {
        const minutes = candles.filter(
          (c) =>
            c.interval === "1m" && c.market === daily.market && bucketStart("1d", c.bucketStart) === daily.bucketStart
        )
        const sum = minutes.reduce((v, c) => v + c.volume, 0)
        expect(close(daily.volume, sum), `${daily.volume} vs ${sum}`).toBe(true)
        expect(minutes.reduce((n, c) => n + c.tickCount, 0)).toBe(daily.tickCount)
      }
    },
    params
  )

  it.prop(
    "a duplicated tick is counted twice",
    [tickArb],
    ([tick]) => {
      const candle = foldIncrementally([tick, tick], ["1m"]).get(
        candleKey(marketOf(tick), "1m", bucketStart("1m", tick.eventTime))
      )
      expect(candle?.tickCount).toBe(2)
      expect(candle?.volume).toBe(2 * (tick.volume ?? 0))
    },
    params
  )

  it.prop(
    "dedupe by symbol+source+eventTime, then fold, equals the fold of the unique ticks",
    [
      fc
        .uniqueArray(fc.tuple(tickArb, fc.integer({ min: 1, max: 3 })), {
          selector: ([t]) => `${t.symbol}|${t.source}|${t.eventTime}`,
          maxLength: 60
        })
        .chain((pairs) => {
          const delivered = pairs.flatMap(([tick, times]) => Array.from({ length: times }, () => tick))
          return fc.tuple(
            fc.constant(pairs.map(([tick]) => tick)),
            fc.shuffledSubarray(delivered, { minLength: delivered.length, maxLength: delivered.length })
          )
        })
    ],
    ([[unique, delivered]]) => {
      const seen = new Set<string>()
      const deduped = delivered.filter((t) => {
        const key = `${t.symbol}|${t.source}|${t.eventTime}`
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
      expectSameCandles(foldIncrementally(deduped, intervals), foldCandles(unique, intervals))
    },
    params
  )

  it.prop(
    "candle state is plain JSON data",
    [ticksWithDuplicatesArb],
    ([ticks]) => {
      const first = ticks[0]
      if (first === undefined) return
      const bucket = bucketStart("1h", first.eventTime)
      let state: CandleState | undefined
      for (const t of ticks) {
        if (t.symbol === first.symbol && bucketStart("1h", t.eventTime) === bucket) state = applyTick(state, t, "1h")
      }
      expect(Schema.decodeUnknownSync(CandleState)(JSON.parse(JSON.stringify(state)))).toEqual(state)
    },
    params
  )
})
