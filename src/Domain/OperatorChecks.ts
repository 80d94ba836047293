import { Schema } from "effect"
import type { Candle } from "./Candle.js"
import { check } from "./Check.js"
import { type CandleCheck, CheckedCandle, GapRef } from "./Completeness.js"
import { Kline } from "./Kline.js"
import { type GapEntry, gapsTouching, touches, withRef } from "./OperatorGaps.js"

// The venue's klines waiting for our 1m candles, and our last final 1m candles waiting for a late kline
// (docs/completeness.md, "The operator"). Each check is made once, when both sides are known.

const minute = 60_000
const recentSize = 5

/** Klines waiting for our 1m candle of their minute to turn final, by bucket start. */
export const RefsSchema = Schema.mutable(Schema.Record({ key: Schema.String, value: Kline }))
export type Refs = Record<string, Kline>

/** Our last final 1m candles: `[bucketStart, candle, gaps touching it]`, oldest first. */
export const RecentSchema = Schema.mutable(
  Schema.Array(Schema.Tuple(Schema.Number, CheckedCandle, Schema.Array(GapRef)))
)
export type RecentEntry = readonly [bucketStart: number, candle: CheckedCandle, gaps: ReadonlyArray<GapRef>]

/** What the checks read and write of a market's state. */
interface CheckState {
  readonly maxEventTime: number
  readonly gaps: ReadonlyArray<GapEntry>
  readonly refs: Refs
  readonly recent: Array<RecentEntry>
}

export const checkedOf = (c: Candle): CheckedCandle => ({
  open: c.open,
  high: c.high,
  low: c.low,
  close: c.close,
  volume: c.volume,
  tickCount: c.tickCount,
  firstTradeId: c.firstTradeId,
  lastTradeId: c.lastTradeId
})

/** Our 1m candle turned final or gap: checked against its waiting kline, if any, and kept in `recent`. */
export const minuteClosed = (s: CheckState, candle: Candle, checks: Array<CandleCheck>): void => {
  const ours = checkedOf(candle)
  const key = String(candle.bucketStart)
  const theirs = s.refs[key]
  if (theirs !== undefined) {
    checks.push(check(ours, candle.gaps, theirs, s.maxEventTime))
    delete s.refs[key]
  }
  s.recent.push([candle.bucketStart, ours, candle.gaps])
  if (s.recent.length > recentSize) s.recent.splice(0, s.recent.length - recentSize)
}

/**
 * Checks the waiting klines whose minute the watermark has passed with no candle of ours (`missing`, or `match` for a
 * minute with no trade), oldest first. Returns the earliest end of a kline still waiting (Infinity when none).
 */
export const expireRefs = (s: CheckState, watermark: number, checks: Array<CandleCheck>): number => {
  let next = Infinity
  const starts = Object.keys(s.refs)
    .map(Number)
    .sort((a, b) => a - b)
  for (const start of starts) {
    if (start + minute > watermark) {
      next = Math.min(next, start + minute)
      continue
    }
    const theirs = s.refs[String(start)]!
    checks.push(check(null, gapsTouching(s.gaps, start, minute), theirs, s.maxEventTime))
    delete s.refs[String(start)]
  }
  return next
}

/**
 * A kline arrived: kept while our candle of its minute can still come or change (`open`, or the watermark not past
 * the minute), else checked now against `recent` or as missing. True when it was kept.
 */
export const klineArrived = (
  s: CheckState,
  kline: Kline,
  open: boolean,
  watermark: number,
  checks: Array<CandleCheck>
): boolean => {
  const start = kline.bucketStart
  if (open || start + minute > watermark) {
    s.refs[String(start)] = kline
    return true
  }
  const entry = s.recent.find(([bucket]) => bucket === start)
  checks.push(
    entry === undefined
      ? check(null, gapsTouching(s.gaps, start, minute), kline, s.maxEventTime)
      : check(entry[1], entry[2], kline, s.maxEventTime)
  )
  return false
}

/** A gap arrived: our recent final candles it touches list it too, so a kline still to come is not compared. */
export const gapOnRecent = (s: CheckState, gap: GapEntry): void => {
  for (let i = 0; i < s.recent.length; i++) {
    const [start, candle, gaps] = s.recent[i]!
    if (touches(gap, start, minute)) s.recent[i] = [start, candle, withRef(gaps, { fromId: gap[0], toId: gap[1] })]
  }
}
