import { describe, expect, it } from "vitest"
import { Candle } from "../../src/Domain/Candle.js"
import type { IndicatorValues } from "../../src/Domain/Indicators.js"
import { sampleMarket } from "../../src/Domain/Tick.js"
import { fillGaps, fillRange, needsPrevious } from "../../src/Http/GapFill.js"
import type { CandleRow } from "../../src/Store/Store.js"

// GET /api/candles?fill=true, the pure part: which buckets an answer covers and what an empty bucket holds.
const m = 60_000
const base = 1_700_000_040_000 // a minute boundary
const ind = (sma20: number): IndicatorValues => ({
  sma20,
  sma50: null,
  ema12: sma20 + 1,
  ema26: null,
  rsi14: 55,
  bollinger: null
})
const row = (minute: number, close: number): CandleRow => ({
  candle: new Candle({
    market: sampleMarket("coingecko", "BTC"),
    symbol: "BTC",
    interval: "1m",
    bucketStart: base + minute * m,
    open: close - 1,
    high: close + 2,
    low: close - 3,
    close,
    volume: 5,
    tickCount: 4,
    vwap: close,
    status: "final",
    gaps: [],
    firstTradeId: null,
    lastTradeId: null
  }),
  indicators: ind(close * 10)
})
const minutes = (rows: ReadonlyArray<CandleRow>) => rows.map((r) => (r.candle.bucketStart - base) / m)
const far = base + 1000 * m // "now", well after every bucket

describe("fillRange", () => {
  const rows = [row(0, 100), row(1, 101), row(4, 104), row(9, 109)]

  it("spans the candles returned when neither from nor to is given", () => {
    expect(fillRange("1m", { limit: 500 }, rows, far)).toEqual({ first: base, last: base + 9 * m })
  })

  it("starts at the first bucket at or after from and ends at the last bucket before to", () => {
    expect(fillRange("1m", { from: base - 2 * m, to: base + 12 * m, limit: 500 }, rows, far)).toEqual({
      first: base - 2 * m,
      last: base + 11 * m
    })
    // not on a boundary: from rounds up (bucket_start >= from), to rounds up too (bucket_start < to)
    const inside = rows.filter((r) => r.candle.bucketStart >= base + 3 * m && r.candle.bucketStart <= base + 7 * m)
    expect(fillRange("1m", { from: base + 2 * m + 1, to: base + 7 * m + 1, limit: 500 }, inside, far)).toEqual({
      first: base + 3 * m,
      last: base + 7 * m
    })
  })

  it("never goes past the bucket that holds now", () => {
    const now = base + 10 * m + 30_000
    expect(fillRange("1m", { to: base + 60 * m, limit: 500 }, rows, now)?.last).toBe(base + 10 * m)
  })

  it("keeps a candle ahead of now (clock skew) in range", () => {
    expect(fillRange("1m", { to: base + 60 * m, limit: 500 }, rows, base + 5 * m)?.last).toBe(base + 9 * m)
  })

  it("holds at most limit buckets, the newest", () => {
    expect(fillRange("1m", { limit: 3 }, rows, far)).toEqual({ first: base + 7 * m, last: base + 9 * m })
    expect(fillRange("1m", { from: base - 100 * m, to: base + 10 * m, limit: 1 }, rows, far)).toEqual({
      first: base + 9 * m,
      last: base + 9 * m
    })
  })

  it("has nothing to fill without candles and without to, or when the range is empty", () => {
    expect(fillRange("1m", { limit: 500 }, [], far)).toBeUndefined()
    expect(fillRange("1m", { from: base, limit: 500 }, [], far)).toBeUndefined()
    expect(fillRange("1m", { from: base + 20 * m, to: base + 25 * m, limit: 500 }, [], base + 10 * m)).toBeUndefined()
  })

  it("aligns daily buckets to UTC midnight", () => {
    const day = 86_400_000
    const midnight = Math.floor(base / day) * day
    expect(
      fillRange("1d", { from: midnight + 1, to: midnight + 3 * day, limit: 500 }, [], midnight + 10 * day)
    ).toEqual({ first: midnight + day, last: midnight + 2 * day })
  })
})

describe("fillGaps", () => {
  it("carries the last close into empty buckets with zero volume and keeps real candles as they are", () => {
    const rows = [row(0, 100), row(1, 101), row(4, 104), row(9, 109)]
    const out = fillGaps("1m", rows, { first: base, last: base + 9 * m })
    expect(minutes(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    for (const [i, r] of out.entries()) {
      const real = rows.find((x) => x.candle.bucketStart === r.candle.bucketStart)
      if (real !== undefined) {
        expect(r).toBe(real)
        continue
      }
      const before = [...rows].reverse().find((x) => x.candle.bucketStart < r.candle.bucketStart)!
      const c = r.candle
      expect([c.open, c.high, c.low, c.close, c.vwap], `bucket ${i}`).toEqual(Array(5).fill(before.candle.close))
      expect(c.volume).toBe(0)
      expect(c.tickCount).toBe(0)
      expect(c.symbol).toBe("BTC")
      expect(c.interval).toBe("1m")
      expect(c).toBeInstanceOf(Candle)
      // the processor counts real candles only: an empty bucket repeats the last real candle's indicator values
      expect(r.indicators).toEqual(before.indicators)
    }
  })

  it("fills leading buckets from the previous candle, and leaves them out when there is none", () => {
    const rows = [row(5, 105)]
    expect(minutes(fillGaps("1m", rows, { first: base + 2 * m, last: base + 6 * m }))).toEqual([5, 6])
    const previous = row(0, 100)
    const out = fillGaps("1m", rows, { first: base + 2 * m, last: base + 6 * m }, previous)
    expect(minutes(out)).toEqual([2, 3, 4, 5, 6])
    expect(out.slice(0, 3).map((r) => r.candle.close)).toEqual([100, 100, 100])
    expect(out[4]!.candle.close).toBe(105)
  })

  it("takes the carried close from a candle before the range that came with the rows (a limit cut it off)", () => {
    const rows = [row(0, 100), row(1, 101), row(9, 109)]
    const out = fillGaps("1m", rows, { first: base + 7 * m, last: base + 9 * m })
    expect(minutes(out)).toEqual([7, 8, 9])
    expect(out.map((r) => r.candle.close)).toEqual([101, 101, 109])
  })

  it("never holds more buckets than the range", () => {
    const rows = Array.from({ length: 50 }, (_, i) => row(i * 3, 100 + i))
    const out = fillGaps("1m", rows, { first: base + 100 * m, last: base + 147 * m })
    expect(out).toHaveLength(48)
  })
})

describe("needsPrevious", () => {
  it("is true only when no returned candle is at or before the first bucket", () => {
    const range = { first: base + 2 * m, last: base + 9 * m }
    expect(needsPrevious([row(3, 1), row(9, 2)], range)).toBe(true)
    expect(needsPrevious([], range)).toBe(true)
    expect(needsPrevious([row(2, 1)], range)).toBe(false)
    expect(needsPrevious([row(0, 1), row(9, 2)], range)).toBe(false)
  })
})
