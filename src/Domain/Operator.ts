import { Effect, type ParseResult, Schema } from "effect"
import { applyTick, CandleState, candleKey, toCandle } from "./Aggregate.js"
import type { Candle } from "./Candle.js"
import { admitSample, admitTrade, RangesSchema, SeenSchema, seenToJson, sweepRanges, sweepSeen } from "./Dedupe.js"
import { emptyIndicatorState, IndicatorState, type IndicatorValues, indicatorValues, pushClose } from "./Indicators.js"
import { bucketStart, Interval, intervalMillis, intervals } from "./Interval.js"
import type { Market } from "./Market.js"
import { fromLegacy } from "./OperatorLegacy.js"
import type { Tick } from "./Tick.js"
import { tickMarket } from "./TickMarket.js"

/**
 * The processor's per-partition operator: dedupe, per-market event-time watermark, candles for every
 * interval and incremental indicators. Pure: no I/O and no clock; the state is plain data (checkpointed as JSON
 * in Postgres with the partition's offset, see `encodeState`), mutated in place for speed by `accept` only.
 */

const MarketState = Schema.Struct({
  /** Largest event time accepted; the watermark is this minus the allowed lateness. */
  maxEventTime: Schema.Number,
  /** Samples accepted, by source and event time. */
  seen: SeenSchema,
  /** Trades accepted, as id ranges (absent in checkpoints written before markets). */
  trades: Schema.optionalWith(RangesSchema, { default: () => [] }),
  /** The watermark at the last sweep of the dedupe sets (sweeping on every tick would cost the whole window each time). */
  sweptAt: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** Candles whose bucket has not closed yet, by candleKey. */
  open: Schema.mutable(Schema.Record({ key: Schema.String, value: CandleState })),
  /** Indicator state over closed candles, per interval. */
  indicators: Schema.mutable(Schema.Record({ key: Interval, value: IndicatorState }))
})
export type MarketState = typeof MarketState.Type

export const OperatorState = Schema.Struct({
  markets: Schema.mutable(Schema.Record({ key: Schema.String, value: Schema.mutable(MarketState) }))
}).annotations({ identifier: "OperatorState" })
export type OperatorState = typeof OperatorState.Type

/** A checkpoint written before markets: the same state per symbol (the candle keys begin with the symbol). */
const LegacyState = Schema.Struct({
  symbols: Schema.Record({ key: Schema.String, value: Schema.mutable(MarketState) })
})

export const emptyState = (): OperatorState => ({ markets: {} })

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

export type Verdict =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Late"; readonly watermark: number }

/**
 * Candles changed by `accept` since the last `collect`. A tick changes its candle and the provisional indicators of
 * every later open candle of the interval, so only the earliest touched bucket per market and interval is kept, and
 * the candles are built once per batch of records instead of once per tick. Closed candles are kept as they closed.
 */
export interface Changes {
  /** Market → the earliest touched bucket start per interval (in `intervals` order; Infinity when untouched). */
  readonly touched: Map<Market, Array<number>>
  readonly closed: Array<CandleUpdate>
}

export const emptyChanges = (): Changes => ({ touched: new Map(), closed: [] })

/** Derived from a market's state for speed, never serialised: rebuilt whenever missing (as after a checkpoint decode). */
interface Derived {
  /** The earliest end of an open candle (Infinity when none): most ticks close nothing, and this says so at once. */
  nextClose: number
  /** Per interval, the last bucket start looked up and its candleKey: a tick in the same bucket builds no new string. */
  readonly lastStart: Array<number>
  readonly lastKey: Array<string>
}
const derivedOf = new WeakMap<MarketState, Derived>()

const earliestEnd = (s: MarketState): number => {
  let end = Infinity
  for (const c of Object.values(s.open)) end = Math.min(end, c.bucketStart + intervalMillis[c.interval])
  return end
}

const derived = (s: MarketState): Derived => {
  let d = derivedOf.get(s)
  if (d === undefined) {
    d = { nextClose: earliestEnd(s), lastStart: intervals.map(() => NaN), lastKey: intervals.map(() => "") }
    derivedOf.set(s, d)
  }
  return d
}

const accepted: Verdict = { _tag: "Accepted" }
const duplicate: Verdict = { _tag: "Duplicate" }

const newMarket = (): MarketState => ({
  maxEventTime: 0, // (not -Infinity: the state round-trips through JSON)
  seen: new Map(),
  trades: [],
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

const openOf = (s: MarketState, interval: Interval): Array<CandleState> =>
  Object.values(s.open)
    .filter((c) => c.interval === interval)
    .sort((a, b) => a.bucketStart - b.bucketStart)

/**
 * Applies one tick to the partition's state and records what it changed in `changes` (see `collect`).
 * `lateness` is the allowed lateness in ms.
 */
export const accept = (state: OperatorState, tick: Tick, lateness: number, changes: Changes): Verdict => {
  const market = tickMarket(tick)
  const s = (state.markets[market] ??= newMarket())
  const watermark = s.maxEventTime - lateness
  if (tick.eventTime < watermark) return { _tag: "Late", watermark }
  const fresh =
    tick.tradeId === undefined
      ? admitSample(s.seen, tick.source, tick.eventTime)
      : admitTrade(s.trades, tick.tradeId, tick.eventTime)
  if (!fresh) return duplicate

  let touched = changes.touched.get(market)
  if (touched === undefined) changes.touched.set(market, (touched = intervals.map(() => Infinity)))
  const d = derived(s)
  for (let i = 0; i < intervals.length; i++) {
    const interval = intervals[i]!
    const start = bucketStart(interval, tick.eventTime)
    let key = d.lastKey[i]!
    if (d.lastStart[i] !== start) {
      key = d.lastKey[i] = candleKey(market, interval, start)
      d.lastStart[i] = start
    }
    const candle = s.open[key]
    if (candle === undefined) d.nextClose = Math.min(d.nextClose, start + intervalMillis[interval])
    s.open[key] = applyTick(candle, tick, interval)
    if (start < touched[i]!) touched[i] = start
  }

  if (tick.eventTime > s.maxEventTime) {
    s.maxEventTime = tick.eventTime
    advanceWatermark(s, market, s.maxEventTime - lateness, lateness, changes.closed)
  }
  return accepted
}

/**
 * The candles changed since the last call, each once with its current values: those that closed, then every open
 * candle at or after the earliest touched bucket of its interval. Empties `changes`.
 */
export const collect = (state: OperatorState, changes: Changes): Array<CandleUpdate> => {
  const updates = changes.closed.splice(0)
  for (const [market, touched] of changes.touched) {
    const s = state.markets[market]
    if (s === undefined) continue
    for (let i = 0; i < intervals.length; i++) {
      const from = touched[i]!
      if (from === Infinity) continue
      const interval = intervals[i]!
      const open = openOf(s, interval)
      let indicators = s.indicators[interval]
      for (const c of open) {
        if (c.bucketStart >= from) {
          updates.push({
            key: candleKey(market, interval, c.bucketStart),
            candle: toCandle(c, market, "provisional", []),
            indicators: indicatorValues(indicators, c.close),
            closed: false
          })
        }
        indicators = pushClose(indicators, c.close)
      }
    }
  }
  changes.touched.clear()
  return updates
}

/** Applies one tick and returns the candles it changed (`accept` then `collect`, for one tick). */
export const step = (state: OperatorState, tick: Tick, lateness: number): StepResult => {
  const changes = emptyChanges()
  const verdict = accept(state, tick, lateness, changes)
  return verdict._tag === "Accepted" ? { _tag: "Accepted", candles: collect(state, changes) } : verdict
}

/**
 * Closes every bucket that ends at or before the watermark, oldest first, and forgets dedupe keys behind it: in a sweep
 * once the watermark has moved a quarter of the lateness since the last one, so a key costs O(1) amortised and the set
 * holds at most 1.25 × the lateness worth of ticks (keys behind the watermark are never consulted: those ticks are late).
 */
const advanceWatermark = (
  s: { -readonly [K in keyof MarketState]: MarketState[K] },
  market: Market,
  watermark: number,
  lateness: number,
  closed: Array<CandleUpdate>
) => {
  const d = derived(s)
  if (d.nextClose <= watermark) {
    for (const interval of intervals) {
      for (const c of openOf(s, interval)) {
        if (c.bucketStart + intervalMillis[interval] > watermark) break
        const key = candleKey(market, interval, c.bucketStart)
        closed.push({
          key,
          candle: toCandle(c, market, "final", []),
          indicators: indicatorValues(s.indicators[interval], c.close),
          closed: true
        })
        s.indicators[interval] = pushClose(s.indicators[interval], c.close)
        delete s.open[key]
      }
    }
    d.nextClose = earliestEnd(s)
  }
  if (watermark - s.sweptAt < lateness / 4) return
  s.sweptAt = watermark
  sweepSeen(s.seen, watermark)
  sweepRanges(s.trades, watermark)
}

/**
 * A checkpoint's state. One written before markets (`symbols`) loads too: each symbol's state becomes its market in
 * `legacy` (market_legacy, written by migration 0004), else the sample market of the source with most entries in its
 * dedupe set (docs/markets.md).
 */
export const decodeState = (
  u: unknown,
  legacy: ReadonlyMap<string, Market> = new Map()
): Effect.Effect<OperatorState, ParseResult.ParseError> =>
  typeof u === "object" && u !== null && "symbols" in u && !("markets" in u)
    ? Effect.map(decodeLegacy(u), (old) => fromLegacy(old.symbols, legacy))
    : decodeCurrent(u)

const decodeCurrent = Schema.decodeUnknown(OperatorState)
const decodeLegacy = Schema.decodeUnknown(LegacyState)

/**
 * The state as checkpoint JSON, as `OperatorState`'s encoding gives it, written by hand: it runs at every checkpoint,
 * and apart from `seen` the state is JSON already, where a Schema encode would check every value (and a replacer
 * function would be called for each of them).
 */
export const encodeState = (state: OperatorState): string => {
  const markets: Record<string, unknown> = {}
  for (const [market, s] of Object.entries(state.markets)) markets[market] = { ...s, seen: seenToJson(s.seen) }
  return JSON.stringify({ markets })
}
