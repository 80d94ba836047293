import { Schema } from "effect"

const checkPeriod = (period: number): void => {
  if (!Number.isInteger(period) || period < 1)
    throw new RangeError(`indicator period must be a positive integer, got ${period}`)
}

const mean = (values: ReadonlyArray<number>): number => values.reduce((sum, v) => sum + v, 0) / values.length

/** Mean of the last `period` values; null if there are fewer. */
export const sma = (values: ReadonlyArray<number>, period: number): number | null => {
  checkPeriod(period)
  return values.length < period ? null : mean(values.slice(-period))
}

const emaStep = (previous: number, value: number, period: number): number => {
  const alpha = 2 / (period + 1)
  return alpha * value + (1 - alpha) * previous
}

/** Seeded with the SMA of the first `period` values, then alpha = 2 / (period + 1); null if fewer than `period`. */
export const ema = (values: ReadonlyArray<number>, period: number): number | null => {
  checkPeriod(period)
  if (values.length < period) return null
  let result = mean(values.slice(0, period))
  for (const value of values.slice(period)) result = emaStep(result, value, period)
  return result
}

const wilder = (average: number, value: number, period: number): number => (average * (period - 1) + value) / period

const rsiFromAverages = (avgGain: number, avgLoss: number): number =>
  avgLoss === 0 ? (avgGain === 0 ? 50 : 100) : 100 - 100 / (1 + avgGain / avgLoss)

/** First average gain and loss: the simple means of the first `period` changes of `values` (which has period + 1 items). */
const seedAverages = (values: ReadonlyArray<number>, period: number): { avgGain: number; avgLoss: number } => {
  let gains = 0,
    losses = 0
  for (let i = 1; i <= period; i++) {
    const change = (values[i] ?? 0) - (values[i - 1] ?? 0)
    if (change > 0) gains += change
    else losses -= change
  }
  return { avgGain: gains / period, avgLoss: losses / period }
}

/** Wilder's RSI; needs period + 1 values. 100 when there were no losses, 50 when there was no change at all. */
export const rsi = (values: ReadonlyArray<number>, period: number): number | null => {
  checkPeriod(period)
  if (values.length < period + 1) return null
  let { avgGain, avgLoss } = seedAverages(values, period)
  for (let i = period + 1; i < values.length; i++) {
    const change = (values[i] ?? 0) - (values[i - 1] ?? 0)
    avgGain = wilder(avgGain, Math.max(change, 0), period)
    avgLoss = wilder(avgLoss, Math.max(-change, 0), period)
  }
  return rsiFromAverages(avgGain, avgLoss)
}

export const BollingerBands = Schema.Struct({ middle: Schema.Number, upper: Schema.Number, lower: Schema.Number })
export interface BollingerBands extends Schema.Schema.Type<typeof BollingerBands> {}

/** SMA of the last `period` values, plus and minus `k` population standard deviations. */
export const bollinger = (values: ReadonlyArray<number>, period: number, k: number): BollingerBands | null => {
  checkPeriod(period)
  if (values.length < period) return null
  const window = values.slice(-period)
  const middle = mean(window)
  const deviation = Math.sqrt(mean(window.map((v) => (v - middle) ** 2)))
  return { middle, upper: middle + k * deviation, lower: middle - k * deviation }
}

/**
 * Volume-weighted mean price; the plain mean price when the total volume is 0 (as for candles); null when empty.
 * Clamped to the price range, which float underflow could otherwise leave (as in Aggregate).
 */
export const vwap = (points: ReadonlyArray<{ readonly price: number; readonly volume: number }>): number | null => {
  if (points.length === 0) return null
  let pv = 0,
    v = 0,
    low = Infinity,
    high = -Infinity
  for (const p of points) {
    pv += p.price * p.volume
    v += p.volume
    low = Math.min(low, p.price)
    high = Math.max(high, p.price)
  }
  return Math.min(high, Math.max(low, v > 0 ? pv / v : mean(points.map((p) => p.price))))
}

// The indicators the processor maintains per (symbol, interval).
const window = 50
const smaShort = 20,
  smaLong = 50,
  emaFast = 12,
  emaSlow = 26,
  rsiPeriod = 14,
  bandPeriod = 20,
  bandWidth = 2

/** Incremental indicator state over closed candles. Plain data (checkpointed), bounded: at most `window` closes. */
export const IndicatorState = Schema.Struct({
  /** The last closes, oldest first. */
  closes: Schema.Array(Schema.Number).pipe(Schema.maxItems(window)),
  /** How many closes were ever pushed. */
  count: Schema.NonNegativeInt,
  ema12: Schema.NullOr(Schema.Number),
  ema26: Schema.NullOr(Schema.Number),
  rsiAvgGain: Schema.NullOr(Schema.Number),
  rsiAvgLoss: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "IndicatorState" })
export interface IndicatorState extends Schema.Schema.Type<typeof IndicatorState> {}

export const emptyIndicatorState: IndicatorState = {
  closes: [],
  count: 0,
  ema12: null,
  ema26: null,
  rsiAvgGain: null,
  rsiAvgLoss: null
}

/** `all` holds every close while count <= window, which covers the SMA seed at count === period. */
const nextEma = (previous: number | null, all: ReadonlyArray<number>, count: number, period: number): number | null =>
  count === period ? mean(all) : previous === null ? null : emaStep(previous, all.at(-1) ?? 0, period)

/** Adds the close of a candle that just closed. */
export const pushClose = (state: IndicatorState, close: number): IndicatorState => {
  const count = state.count + 1
  const all = [...state.closes, close]
  const closes = all.slice(-window)
  let rsiAvgGain: number | null = null,
    rsiAvgLoss: number | null = null
  if (count === rsiPeriod + 1) {
    // The window still holds every close so far, so the seed sees all the first changes.
    const seed = seedAverages(all, rsiPeriod)
    rsiAvgGain = seed.avgGain
    rsiAvgLoss = seed.avgLoss
  } else if (state.rsiAvgGain !== null && state.rsiAvgLoss !== null) {
    const change = close - (state.closes.at(-1) ?? close)
    rsiAvgGain = wilder(state.rsiAvgGain, Math.max(change, 0), rsiPeriod)
    rsiAvgLoss = wilder(state.rsiAvgLoss, Math.max(-change, 0), rsiPeriod)
  }
  return {
    closes,
    count,
    ema12: nextEma(state.ema12, all, count, emaFast),
    ema26: nextEma(state.ema26, all, count, emaSlow),
    rsiAvgGain,
    rsiAvgLoss
  }
}

export const IndicatorValuesSchema = Schema.Struct({
  sma20: Schema.NullOr(Schema.Number),
  sma50: Schema.NullOr(Schema.Number),
  ema12: Schema.NullOr(Schema.Number),
  ema26: Schema.NullOr(Schema.Number),
  rsi14: Schema.NullOr(Schema.Number),
  bollinger: Schema.NullOr(BollingerBands)
}).annotations({ identifier: "IndicatorValues" })
export interface IndicatorValues extends Schema.Schema.Type<typeof IndicatorValuesSchema> {}

/** Values over the closed closes, plus optionally the still-open candle's close as the provisional last value (does not modify state). */
export const indicatorValues = (state: IndicatorState, openClose?: number): IndicatorValues => {
  const s = openClose === undefined ? state : pushClose(state, openClose)
  return {
    sma20: sma(s.closes, smaShort),
    sma50: sma(s.closes, smaLong),
    ema12: s.ema12,
    ema26: s.ema26,
    rsi14: s.rsiAvgGain === null || s.rsiAvgLoss === null ? null : rsiFromAverages(s.rsiAvgGain, s.rsiAvgLoss),
    bollinger: bollinger(s.closes, bandPeriod, bandWidth)
  }
}
