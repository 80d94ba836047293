import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import {
  bollinger,
  ema,
  emptyIndicatorState,
  IndicatorState,
  type IndicatorValues,
  IndicatorValuesSchema,
  indicatorValues,
  pushClose,
  rsi,
  sma,
  vwap
} from "../../src/Domain/Indicators.js"

// Failures also print fast-check's own seed and path; PROPERTY_SEED=<n> replays a run.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const numRuns = 200
const params = { fastCheck: { seed, numRuns } }

// Naive references: recompute everything from the full list, written differently from the production code.

const naiveMean = (xs: ReadonlyArray<number>) => {
  let sum = 0
  for (const x of xs) sum += x
  return sum / xs.length
}

const naiveSma = (xs: ReadonlyArray<number>, p: number) => (xs.length < p ? null : naiveMean(xs.slice(xs.length - p)))

const naiveEma = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length < p) return null
  let e = naiveMean(xs.slice(0, p))
  for (const x of xs.slice(p)) e += (2 / (p + 1)) * (x - e)
  return e
}

const naiveRsi = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length < p + 1) return null
  const changes: Array<number> = []
  for (let i = 1; i < xs.length; i++) changes.push((xs[i] ?? NaN) - (xs[i - 1] ?? NaN))
  let gain = naiveMean(changes.slice(0, p).map((c) => Math.max(c, 0)))
  let loss = naiveMean(changes.slice(0, p).map((c) => (c < 0 ? -c : 0)))
  for (const c of changes.slice(p)) {
    gain += (Math.max(c, 0) - gain) / p
    loss += ((c < 0 ? -c : 0) - loss) / p
  }
  return gain + loss === 0 ? 50 : (100 * gain) / (gain + loss)
}

const naiveBollinger = (xs: ReadonlyArray<number>, p: number, k: number) => {
  if (xs.length < p) return null
  const window = xs.slice(xs.length - p)
  const middle = naiveMean(window)
  let squares = 0
  for (const x of window) squares += (x - middle) * (x - middle)
  const sd = Math.sqrt(squares / p)
  return { middle, upper: middle + k * sd, lower: middle - k * sd }
}

const naiveValues = (xs: ReadonlyArray<number>): IndicatorValues => ({
  sma20: naiveSma(xs, 20),
  sma50: naiveSma(xs, 50),
  ema12: naiveEma(xs, 12),
  ema26: naiveEma(xs, 26),
  rsi14: naiveRsi(xs, 14),
  bollinger: naiveBollinger(xs, 20, 2)
})

/** Relative tolerance against `scale` (by default the larger magnitude). */
const near = (a: number | null, b: number | null, scale?: number): boolean =>
  a === null || b === null
    ? a === b
    : a === b || Math.abs(a - b) <= 1e-6 * (scale ?? Math.max(Math.abs(a), Math.abs(b)))

const expectNear = (a: number | null, b: number | null, what: string, scale?: number) =>
  expect(near(a, b, scale), `${what}: ${a} vs ${b}`).toBe(true)

const expectSameValues = (actual: IndicatorValues, expected: IndicatorValues) => {
  expectNear(actual.sma20, expected.sma20, "sma20")
  expectNear(actual.sma50, expected.sma50, "sma50")
  expectNear(actual.ema12, expected.ema12, "ema12")
  expectNear(actual.ema26, expected.ema26, "ema26")
  expectNear(actual.rsi14, expected.rsi14, "rsi14", 100)
  expect(actual.bollinger === null, "bollinger null").toBe(expected.bollinger === null)
  if (actual.bollinger !== null && expected.bollinger !== null) {
    // lower = middle - 2 sd can cancel to near 0, so compare against the scale of the band, not of lower.
    const scale = Math.abs(expected.bollinger.upper)
    expectNear(actual.bollinger.middle, expected.bollinger.middle, "middle", scale)
    expectNear(actual.bollinger.upper, expected.bollinger.upper, "upper", scale)
    expectNear(actual.bollinger.lower, expected.bollinger.lower, "lower", scale)
  }
}

const priceArb = fc.double({ min: 1e-4, max: 1e6, noNaN: true })
const closesArb = fc.oneof(
  fc.array(priceArb, { maxLength: 150 }),
  // A random walk, as real prices move.
  fc.array(fc.double({ min: -0.05, max: 0.05, noNaN: true }), { maxLength: 150 }).map((steps) => {
    let price = 100
    return steps.map((s) => (price *= 1 + s))
  }),
  // Flat runs and ties: RSI's 50 and 100 cases, zero-width bands.
  fc.array(fc.constantFrom(100, 101, 102), { maxLength: 150 }),
  fc.array(fc.constant(5), { maxLength: 80 }),
  fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { maxLength: 80 }).map((steps) => {
    let price = 1
    return steps.map((s) => (price += s))
  })
)

const pushAll = (closes: ReadonlyArray<number>) => closes.reduce(pushClose, emptyIndicatorState)

describe("Indicators", () => {
  it("matches hand-computed examples", () => {
    expect(sma([1, 2, 3, 4, 5], 3)).toBe(4)
    expect(sma([1, 2], 3)).toBeNull()
    // Seed = mean(1, 2, 3) = 2; alpha = 0.5: 2 → 3 → 4.
    expect(ema([1, 2, 3, 4, 5], 3)).toBe(4)
    expect(ema([1, 2], 3)).toBeNull()
    const bands = bollinger([1, 2, 3, 4, 5], 5, 2)
    expect(bands?.middle).toBe(3)
    expect(bands?.upper).toBeCloseTo(3 + 2 * Math.SQRT2, 12) // population variance = 10 / 5 = 2
    expect(bands?.lower).toBeCloseTo(3 - 2 * Math.SQRT2, 12)
    expect(
      vwap([
        { price: 10, volume: 1 },
        { price: 20, volume: 3 }
      ])
    ).toBe(17.5)
    expect(
      vwap([
        { price: 10, volume: 0 },
        { price: 20, volume: 0 }
      ])
    ).toBe(15)
    expect(vwap([])).toBeNull()
    expect(rsi([1, 2, 3, 4], 3)).toBe(100)
    expect(rsi([4, 4, 4, 4], 3)).toBe(50)
    expect(rsi([4, 3, 2, 1], 3)).toBe(0)
    expect(rsi([1, 2, 3], 3)).toBeNull()
  })

  it("computes Wilder's RSI for the StockCharts example", () => {
    const closes = [
      44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.1, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28, 46.0,
      46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66,
      43.13
    ]
    // First 14 changes: gains sum to 3.34, losses to 1.40, so RSI = 100 * 3.34 / 4.74.
    expect(rsi(closes.slice(0, 15), 14)).toBeCloseTo((100 * 3.34) / 4.74, 9)
    // StockCharts' published table rounds its intermediate averages, so it differs in the first decimal.
    const published = [
      70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46, 41.87, 45.46,
      37.3, 33.08, 37.77
    ]
    published.forEach((value, i) => {
      expect(Math.abs((rsi(closes.slice(0, 15 + i), 14) ?? NaN) - value)).toBeLessThan(0.1)
    })
    expect(indicatorValues(pushAll(closes)).rsi14).toBeCloseTo(rsi(closes, 14) ?? NaN, 9)
  })

  it("has no values before enough closes", () => {
    expect(indicatorValues(emptyIndicatorState)).toEqual({
      sma20: null,
      sma50: null,
      ema12: null,
      ema26: null,
      rsi14: null,
      bollinger: null
    })
  })

  it.prop(
    "array functions equal the naive references",
    [closesArb, fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 4, noNaN: true })],
    ([closes, period, k]) => {
      expectNear(sma(closes, period), naiveSma(closes, period), "sma")
      expectNear(ema(closes, period), naiveEma(closes, period), "ema")
      expectNear(rsi(closes, period), naiveRsi(closes, period), "rsi", 100)
      const [a, b] = [bollinger(closes, period, k), naiveBollinger(closes, period, k)]
      expect(a === null).toBe(b === null)
      if (a !== null && b !== null) {
        const scale = Math.abs(b.upper)
        expect(near(a.middle, b.middle, scale) && near(a.upper, b.upper, scale) && near(a.lower, b.lower, scale)).toBe(
          true
        )
      }
    },
    params
  )

  it.prop(
    "vwap equals the naive weighted mean",
    [fc.array(fc.record({ price: priceArb, volume: fc.double({ min: 0, max: 1e4, noNaN: true }) }), { maxLength: 50 })],
    ([points]) => {
      let pv = 0,
        v = 0
      for (const p of points) {
        pv += p.price * p.volume
        v += p.volume
      }
      const prices = points.map((p) => p.price)
      const [low, high] = [Math.min(...prices), Math.max(...prices)]
      const mean = v > 0 ? pv / v : naiveMean(prices)
      const expected = points.length === 0 ? null : mean < low ? low : Math.min(mean, high)
      expectNear(vwap(points), expected, "vwap")
      const actual = vwap(points)
      if (actual !== null) expect(low <= actual && actual <= high).toBe(true)
    },
    params
  )

  it.prop(
    "pushClose one by one equals the naive references over the full list",
    [closesArb],
    ([closes]) => {
      let state = emptyIndicatorState
      closes.forEach((close, i) => {
        state = pushClose(state, close)
        expectSameValues(indicatorValues(state), naiveValues(closes.slice(0, i + 1)))
      })
    },
    params
  )

  it.prop(
    "a provisional close counts as the last value and leaves the state alone",
    [closesArb, priceArb],
    ([closes, provisional]) => {
      const state = pushAll(closes)
      const before = JSON.stringify(state)
      expectSameValues(indicatorValues(state, provisional), naiveValues([...closes, provisional]))
      expect(JSON.stringify(state)).toBe(before)
    },
    params
  )

  it.prop(
    "the state stays bounded and survives a JSON checkpoint",
    [fc.array(priceArb, { minLength: 50, maxLength: 400 })],
    ([closes]) => {
      // 50 closes plus 4 averages, each a JSON double of at most 24 characters, plus field names.
      const maxJsonLength = (50 + 4) * 25 + 200
      let state = emptyIndicatorState
      for (const close of closes) {
        state = pushClose(state, close)
        expect(state.closes.length).toBeLessThanOrEqual(50)
        expect(JSON.stringify(state).length).toBeLessThanOrEqual(maxJsonLength)
      }
      expect(state.closes).toEqual(closes.slice(-50))
      expect(state.count).toBe(closes.length)
      const restored = Schema.decodeUnknownSync(IndicatorState)(JSON.parse(JSON.stringify(state)))
      expect(restored).toEqual(state)
      expect(indicatorValues(restored)).toEqual(indicatorValues(state))
      expect(Schema.encodeSync(IndicatorValuesSchema)(indicatorValues(state))).toEqual(indicatorValues(state))
    },
    params
  )
})
