import { Schema } from "effect"
import { applyTick, candleKey, CandleState, toCandle } from "./Aggregate.js"
import type { Candle } from "./Candle.js"
import { emptyIndicatorState, IndicatorState, indicatorValues, type IndicatorValues, pushClose } from "./Indicators.js"
import { bucketStart, Interval, intervalMillis, intervals } from "./Interval.js"
import type { Tick } from "./Tick.js"

/**
 * The processor's per-partition operator: dedupe, per-symbol event-time watermark, candles for every
 * interval and incremental indicators. Pure: no I/O and no clock; the state is plain JSON (checkpointed
 * in Postgres with the partition's offset), and it is mutated in place for speed by `step` only.
 */

const SymbolState = Schema.Struct({
  /** Largest event time accepted; the watermark is this minus the allowed lateness. */
  maxEventTime: Schema.Number,
  /** "source|eventTime" of accepted ticks not yet behind the watermark (older ones are rejected as late anyway). */
  seen: Schema.mutable(Schema.Record({ key: Schema.String, value: Schema.Number })),
  /** The watermark at the last sweep of `seen` (sweeping on every tick would cost the whole window each time). */
  sweptAt: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** Candles whose bucket has not closed yet, by candleKey. */
  open: Schema.mutable(Schema.Record({ key: Schema.String, value: CandleState })),
  /** Indicator state over closed candles, per interval. */
  indicators: Schema.mutable(Schema.Record({ key: Interval, value: IndicatorState }))
})
type SymbolState = typeof SymbolState.Type

export const OperatorState = Schema.Struct({
  symbols: Schema.mutable(Schema.Record({ key: Schema.String, value: Schema.mutable(SymbolState) }))
}).annotations({ identifier: "OperatorState" })
export type OperatorState = typeof OperatorState.Type

export const emptyState = (): OperatorState => ({ symbols: {} })

export interface CandleUpdate {
  readonly key: string
  readonly candle: Candle
  readonly indicators: IndicatorValues
  /** The bucket closed: no tick can change it any more. */
  readonly closed: boolean
}

export type StepResult =
  | { readonly _tag: "Accepted"; readonly candles: ReadonlyArray<CandleUpdate> }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Late"; readonly watermark: number }

const newSymbol = (): SymbolState => ({
  maxEventTime: 0, // (not -Infinity: the state round-trips through JSON)
  seen: {},
  sweptAt: 0,
  open: {},
  indicators: {
    "1m": emptyIndicatorState,
    "5m": emptyIndicatorState,
    "15m": emptyIndicatorState,
    "1h": emptyIndicatorState,
    "1d": emptyIndicatorState
  }
})

const openOf = (s: SymbolState, interval: Interval): Array<CandleState> =>
  Object.values(s.open).filter((c) => c.interval === interval).sort((a, b) => a.bucketStart - b.bucketStart)

/**
 * Indicator values of each open candle: the closed history, then the earlier open candles' closes,
 * then its own close as the provisional last value. So a candle's values do not change when it closes.
 */
const provisional = (s: SymbolState, interval: Interval, open: ReadonlyArray<CandleState>) => {
  let state = s.indicators[interval]
  return open.map((c) => {
    const values = indicatorValues(state, c.close)
    state = pushClose(state, c.close)
    return values
  })
}

/** Applies one tick to the partition's state. `lateness` is the allowed lateness in ms. */
export const step = (state: OperatorState, tick: Tick, lateness: number): StepResult => {
  const s = state.symbols[tick.symbol] ??= newSymbol()
  const watermark = s.maxEventTime - lateness
  if (tick.eventTime < watermark) return { _tag: "Late", watermark }
  const id = `${tick.source}|${tick.eventTime}`
  if (s.seen[id] !== undefined) return { _tag: "Duplicate" }
  s.seen[id] = tick.eventTime

  for (const interval of intervals) {
    const key = candleKey(tick.symbol, interval, bucketStart(interval, tick.eventTime))
    s.open[key] = applyTick(s.open[key], tick, interval)
  }

  const updates: Array<CandleUpdate> = []
  for (const interval of intervals) {
    // The touched candle and every later open one: their provisional indicators include its close.
    const open = openOf(s, interval)
    const values = provisional(s, interval, open)
    const touched = bucketStart(interval, tick.eventTime)
    open.forEach((c, i) => {
      if (c.bucketStart >= touched) {
        updates.push({ key: candleKey(c.symbol, interval, c.bucketStart), candle: toCandle(c), indicators: values[i]!, closed: false })
      }
    })
  }

  if (tick.eventTime > s.maxEventTime) {
    s.maxEventTime = tick.eventTime
    advanceWatermark(s, s.maxEventTime - lateness, lateness, updates)
  }
  return { _tag: "Accepted", candles: updates }
}

/**
 * Closes every bucket that ends at or before the watermark, oldest first, and forgets dedupe keys behind it: in a sweep
 * once the watermark has moved a quarter of the lateness since the last one, so a key costs O(1) amortised and the set
 * holds at most 1.25 × the lateness worth of ticks (keys behind the watermark are never consulted: those ticks are late).
 */
const advanceWatermark = (s: { -readonly [K in keyof SymbolState]: SymbolState[K] }, watermark: number, lateness: number, updates: Array<CandleUpdate>) => {
  for (const interval of intervals) {
    for (const c of openOf(s, interval)) {
      if (c.bucketStart + intervalMillis[interval] > watermark) break
      const key = candleKey(c.symbol, interval, c.bucketStart)
      updates.push({ key, candle: toCandle(c), indicators: indicatorValues(s.indicators[interval], c.close), closed: true })
      s.indicators[interval] = pushClose(s.indicators[interval], c.close)
      delete s.open[key]
    }
  }
  if (watermark - s.sweptAt < lateness / 4) return
  s.sweptAt = watermark
  for (const [id, time] of Object.entries(s.seen)) {
    if (time < watermark) delete s.seen[id]
  }
}

/** Latest indicator values for a symbol and interval, including the open candle, from in-memory state. */
export const currentIndicators = (state: OperatorState, symbol: string, interval: Interval): IndicatorValues | undefined => {
  const s = state.symbols[symbol]
  if (s === undefined) return undefined
  const open = openOf(s, interval)
  const values = provisional(s, interval, open)
  return values.at(-1) ?? indicatorValues(s.indicators[interval])
}

export const decodeState = Schema.decodeUnknown(OperatorState)
