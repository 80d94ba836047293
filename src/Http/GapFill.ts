import { Candle } from "../Domain/Candle.js"
import { bucketStart, type Interval, intervalMillis } from "../Domain/Interval.js"
import type { CandleRow } from "../Store/Store.js"

/**
 * Gap filling for GET /api/candles?fill=true: pure, so it is tested on its own (test/Http/Candles.test.ts).
 *
 * A bucket without a candle (no tick in it) is filled with the last close carried forward: open = high = low =
 * close = vwap = that close, volume 0, tickCount 0 (which is how a client tells a filled bucket from a real one).
 * Its indicator values are those of the last real candle: the processor only counts real candles, so an empty
 * bucket changes none of them.
 */

export interface FillQuery {
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly limit: number
}

/** First and last bucket start (inclusive) of a filled series. */
export interface FillRange {
  readonly first: number
  readonly last: number
}

/** The start of the first bucket that begins at or after `time` (candles in [from, to) are those with from <= bucketStart < to). */
const bucketAtOrAfter = (interval: Interval, time: number): number => {
  const start = bucketStart(interval, time)
  return start === time ? start : start + intervalMillis[interval]
}

/**
 * The buckets a filled answer covers, or undefined when there is nothing to fill:
 * - from the first bucket at or after `from` (without `from`: the oldest candle returned);
 * - to the last bucket before `to`, never past the bucket holding `now` (without `to`: the newest candle returned);
 * - at most `limit` buckets, the newest ones, as an unfilled answer holds the newest `limit` candles.
 */
export const fillRange = (
  interval: Interval,
  query: FillQuery,
  rows: ReadonlyArray<CandleRow>,
  now: number
): FillRange | undefined => {
  const size = intervalMillis[interval]
  const oldest = rows[0]?.candle.bucketStart
  const newest = rows.at(-1)?.candle.bucketStart
  const start = query.from === undefined ? oldest : bucketAtOrAfter(interval, query.from)
  let end =
    query.to === undefined ? newest : Math.min(bucketAtOrAfter(interval, query.to) - size, bucketStart(interval, now))
  // A candle a little ahead of our clock (the processor allows some skew) is still part of the answer.
  if (end !== undefined && newest !== undefined) end = Math.max(end, newest)
  if (start === undefined || end === undefined || end < start) return undefined
  return { first: Math.max(start, end - (Math.max(1, query.limit) - 1) * size), last: end }
}

/** Does filling `range` need the candle before it (its close is carried into the leading empty buckets)? */
export const needsPrevious = (rows: ReadonlyArray<CandleRow>, range: FillRange): boolean =>
  rows.every((r) => r.candle.bucketStart > range.first)

const filledRow = (from: CandleRow, bucket: number): CandleRow => {
  const close = from.candle.close
  return {
    candle: new Candle(
      {
        market: from.candle.market,
        symbol: from.candle.symbol,
        interval: from.candle.interval,
        bucketStart: bucket,
        open: close,
        high: close,
        low: close,
        close,
        volume: 0,
        tickCount: 0,
        vwap: close,
        // An empty bucket is as settled as the candle it is filled from; it holds no trade and no gap of its own.
        status: from.candle.status,
        gaps: [],
        firstTradeId: null,
        lastTradeId: null
      },
      { disableValidation: true }
    ),
    indicators: from.indicators
  }
}

/**
 * Every bucket of `range`, oldest first: the candle of `rows` when there is one, else a filled one carrying the last
 * close before it (from `rows`, or `previous`, the newest candle before the range). Leading buckets with no close
 * before them are left out: a price is never invented.
 */
export const fillGaps = (
  interval: Interval,
  rows: ReadonlyArray<CandleRow>,
  range: FillRange,
  previous?: CandleRow | undefined
): Array<CandleRow> => {
  const size = intervalMillis[interval]
  const byBucket = new Map<number, CandleRow>()
  let carry = previous
  for (const row of rows) {
    const t = row.candle.bucketStart
    if (t < range.first) {
      if (carry === undefined || t > carry.candle.bucketStart) carry = row
    } else if (t <= range.last) {
      byBucket.set(t, row)
    }
  }
  const out: Array<CandleRow> = []
  for (let t = range.first; t <= range.last; t += size) {
    const real = byBucket.get(t)
    if (real !== undefined) {
      out.push(real)
      carry = real
    } else if (carry !== undefined) {
      out.push(filledRow(carry, t))
    }
  }
  return out
}
