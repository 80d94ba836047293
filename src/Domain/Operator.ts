import { addTick, type CandleState, candleKey, openCandle, toCandle } from "./Aggregate.js"
import type { Candle } from "./Candle.js"
import type { CandleCheck, CandleStatus } from "./Completeness.js"
import { admitSample, admitTrade, sweepRanges, sweepSeen } from "./Dedupe.js"
import type { Gap } from "./Gap.js"
import { type IndicatorValues, indicatorValues, pushClose } from "./Indicators.js"
import { bucketStart, type Interval, intervalMillis, intervals } from "./Interval.js"
import type { Kline } from "./Kline.js"
import type { Market } from "./Market.js"
import { expireRefs, gapOnRecent, klineArrived, minuteClosed } from "./OperatorChecks.js"
import { addGap, dropGapsBefore, gapsTouching, touches } from "./OperatorGaps.js"
import { type MarketState, newMarket, type OperatorState } from "./OperatorState.js"
import type { Tick } from "./Tick.js"
import { tickMarket } from "./TickMarket.js"

export { decodeState, emptyState, encodeState, type MarketState, OperatorState } from "./OperatorState.js"

/**
 * The processor's per-partition operator: dedupe, per-market event-time watermark, candles for every
 * interval and incremental indicators. Pure: no I/O and no clock; the state is plain data (checkpointed as JSON
 * in Postgres with the partition's offset, see `encodeState`), mutated in place for speed by `accept` only.
 */

export interface CandleUpdate {
  readonly key: string
  readonly candle: Candle
  readonly indicators: IndicatorValues
  /** The bucket closed (its status is final or gap): no tick can change it any more. */
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
  /** Checks of our final 1m candles against the venue's, in the order made (see `takeChecks`). */
  readonly checks: Array<CandleCheck>
}

export const emptyChanges = (): Changes => ({ touched: new Map(), closed: [], checks: [] })

/** The checks made since the last call, in the order they were made. Empties them. */
export const takeChecks = (changes: Changes): Array<CandleCheck> => changes.checks.splice(0)

/** Derived from a market's state for speed, never serialised: rebuilt whenever missing (as after a checkpoint decode). */
interface Derived {
  /** The earliest end of an open candle (Infinity when none): most ticks close nothing, and this says so at once. */
  nextClose: number
  /** The earliest end of a waiting kline's minute (Infinity when none): when a missing candle of ours is known. */
  nextRef: number
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

const earliestStart = (s: MarketState): number => {
  let start = Infinity
  for (const c of Object.values(s.open)) start = Math.min(start, c.bucketStart)
  return start
}

const derived = (s: MarketState): Derived => {
  let d = derivedOf.get(s)
  if (d === undefined) {
    d = {
      nextClose: earliestEnd(s),
      nextRef: Object.keys(s.refs).reduce(
        (end, start) => Math.min(end, Number(start) + intervalMillis["1m"]),
        Infinity
      ),
      lastStart: intervals.map(() => NaN),
      lastKey: intervals.map(() => "")
    }
    derivedOf.set(s, d)
  }
  return d
}

const accepted: Verdict = { _tag: "Accepted" }
const duplicate: Verdict = { _tag: "Duplicate" }

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

  const touched = touchedOf(changes, market)
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
    if (candle === undefined) {
      d.nextClose = Math.min(d.nextClose, start + intervalMillis[interval])
      s.open[key] = openCandle(tick, interval)
    } else addTick(candle, tick, interval) // in place: the state owns its open candles
    if (start < touched[i]!) touched[i] = start
  }

  if (tick.eventTime > s.maxEventTime) {
    s.maxEventTime = tick.eventTime
    advanceWatermark(s, market, s.maxEventTime - lateness, lateness, changes)
  }
  return accepted
}

/** The touched buckets of a market in `changes`, created when missing. */
const touchedOf = (changes: Changes, market: Market): Array<number> => {
  let touched = changes.touched.get(market)
  if (touched === undefined) changes.touched.set(market, (touched = intervals.map(() => Infinity)))
  return touched
}

/**
 * Records an unfilled gap (a record of the market's, in order among its ticks): every open candle it touches is emitted
 * again by `collect` with the gap in its `gaps`, and turns `gap` instead of `final` when it closes. A gap is never late.
 */
export const acceptGap = (state: OperatorState, gap: Gap, changes: Changes): void => {
  const s = (state.markets[gap.market] ??= newMarket())
  if (!addGap(s.gaps, gap)) return
  const entry = s.gaps[s.gaps.length - 1]!
  gapOnRecent(s, entry)
  for (const c of Object.values(s.open)) {
    if (!touches(entry, c.bucketStart, intervalMillis[c.interval])) continue
    const touched = touchedOf(changes, gap.market)
    const i = intervals.indexOf(c.interval)
    if (c.bucketStart < touched[i]!) touched[i] = c.bucketStart
  }
}

/**
 * Takes the venue's closed 1m candle (a record of the market's): kept until our candle of its minute turns final, or
 * checked at once (see `takeChecks`) when ours closed already or the watermark passed the minute with no candle of
 * ours. Changes no candle and no watermark; never late. `lateness` as for `accept`.
 */
export const acceptKline = (state: OperatorState, kline: Kline, lateness: number, changes: Changes): void => {
  const s = (state.markets[kline.market] ??= newMarket())
  const open = s.open[candleKey(kline.market, "1m", kline.bucketStart)] !== undefined
  if (klineArrived(s, kline, open, s.maxEventTime - lateness, changes.checks)) {
    const d = derived(s)
    d.nextRef = Math.min(d.nextRef, kline.bucketStart + intervalMillis["1m"])
  }
}

/**
 * The candles changed since the last call, each once with its current values: those that closed, then every open
 * candle at or after the earliest touched bucket of its interval (status provisional). Empties `changes` of candles.
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
          const gaps = gapsTouching(s.gaps, c.bucketStart, intervalMillis[interval])
          updates.push({
            key: candleKey(market, interval, c.bucketStart),
            candle: toCandle(c, market, "provisional", gaps),
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

type Mutable = { -readonly [K in keyof MarketState]: MarketState[K] }

/** Closes every bucket that ends at or before the watermark, oldest first per interval; checks each closing 1m candle. */
const closeBuckets = (s: Mutable, market: Market, watermark: number, changes: Changes) => {
  for (const interval of intervals) {
    const width = intervalMillis[interval]
    for (const c of openOf(s, interval)) {
      if (c.bucketStart + width > watermark) break
      const key = candleKey(market, interval, c.bucketStart)
      const gaps = gapsTouching(s.gaps, c.bucketStart, width)
      const status: CandleStatus = gaps.length > 0 ? "gap" : "final"
      const candle = toCandle(c, market, status, gaps)
      changes.closed.push({ key, candle, indicators: indicatorValues(s.indicators[interval], c.close), closed: true })
      if (interval === "1m") minuteClosed(s, candle, changes.checks)
      s.indicators[interval] = pushClose(s.indicators[interval], c.close)
      delete s.open[key]
    }
  }
}

/**
 * Closes the buckets the watermark has passed, checks the klines whose minute it passed with no candle of ours, and
 * forgets dedupe keys behind it: in a sweep once the watermark has moved a quarter of the lateness since the last one,
 * so a key costs O(1) amortised and the set holds at most 1.25 × the lateness worth of ticks (keys behind the
 * watermark are never consulted: those ticks are late).
 */
const advanceWatermark = (s: Mutable, market: Market, watermark: number, lateness: number, changes: Changes) => {
  const d = derived(s)
  const closes = d.nextClose <= watermark
  if (closes) {
    closeBuckets(s, market, watermark, changes)
    d.nextClose = earliestEnd(s)
  }
  if (d.nextRef <= watermark) d.nextRef = expireRefs(s, watermark, changes.checks)
  // A gap stays while it can touch an open candle, or a future one (whose bucket starts no earlier than the
  // watermark's day).
  if (closes && s.gaps.length > 0) dropGapsBefore(s.gaps, Math.min(earliestStart(s), bucketStart("1d", watermark)))
  if (watermark - s.sweptAt < lateness / 4) return
  s.sweptAt = watermark
  sweepSeen(s.seen, watermark)
  sweepRanges(s.trades, watermark)
}
