import { Effect, Schema } from "effect"
import { Candle } from "../Domain/Candle.js"
import { CandleStatus, GapRef } from "../Domain/Completeness.js"
import { Interval } from "../Domain/Interval.js"
import type { Market } from "../Domain/Market.js"
import type { CandleRow } from "./Model.js"

/** A row of the candles query (Reads.ts), as Postgres hands it over. */
export const CandleRecord = Schema.Struct({
  market: Schema.String, // our own rows, written from Markets: not checked again per row
  symbol: Schema.String,
  interval: Interval,
  bucketStart: Schema.Number, // epoch ms, computed by the query: no Date per row
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number,
  tickCount: Schema.Number,
  vwap: Schema.Number,
  status: CandleStatus,
  gaps: Schema.Array(GapRef),
  firstTradeId: Schema.NullOr(Schema.Number),
  lastTradeId: Schema.NullOr(Schema.Number),
  sma20: Schema.NullOr(Schema.Number),
  sma50: Schema.NullOr(Schema.Number),
  ema12: Schema.NullOr(Schema.Number),
  ema26: Schema.NullOr(Schema.Number),
  rsi14: Schema.NullOr(Schema.Number),
  bbUpper: Schema.NullOr(Schema.Number),
  bbMiddle: Schema.NullOr(Schema.Number),
  bbLower: Schema.NullOr(Schema.Number)
})
export type CandleRecord = typeof CandleRecord.Type

const isTradeId = (u: unknown) => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const isGapRef = (u: unknown) => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const g = u as Record<string, unknown>
  // Exactly the two keys: the schema would drop any other, so a row carrying one takes the schema's path.
  return isTradeId(g["fromId"]) && isTradeId(g["toId"]) && Object.keys(g).length === 2
}
const isNullable = (u: unknown) => u === null || typeof u === "number"

/**
 * The schema's check, by hand: decoding 1,440 rows with Schema was most of /api/candles' time beyond a bare handler's
 * (docs/BENCHMARKS.md). It may only be stricter than the schema, never looser (test/Store/candle-record.test.ts);
 * a row it refuses goes through the schema, for its error. Each field by name: a loop over key names was 20 times
 * slower (keyed loads).
 */
export const isCandleRecord = (u: unknown): u is CandleRecord => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const r = u as { readonly [K in keyof CandleRecord]: unknown }
  const { interval, status, gaps } = r
  return (
    typeof r.market === "string" &&
    typeof r.symbol === "string" &&
    (interval === "1m" || interval === "5m" || interval === "15m" || interval === "1h" || interval === "1d") &&
    (status === "final" || status === "provisional" || status === "gap") &&
    typeof r.bucketStart === "number" &&
    typeof r.open === "number" &&
    typeof r.high === "number" &&
    typeof r.low === "number" &&
    typeof r.close === "number" &&
    typeof r.volume === "number" &&
    typeof r.tickCount === "number" &&
    typeof r.vwap === "number" &&
    isNullable(r.firstTradeId) &&
    isNullable(r.lastTradeId) &&
    isNullable(r.sma20) &&
    isNullable(r.sma50) &&
    isNullable(r.ema12) &&
    isNullable(r.ema26) &&
    isNullable(r.rsi14) &&
    isNullable(r.bbUpper) &&
    isNullable(r.bbMiddle) &&
    isNullable(r.bbLower) &&
    Array.isArray(gaps) &&
    (gaps.length === 0 || gaps.every(isGapRef))
  )
}

const decodeAll = Schema.decodeUnknown(Schema.Array(CandleRecord))

/** `Schema.decodeUnknown(Schema.Array(CandleRecord))`, without the schema when every row passes `isCandleRecord`. */
export const decodeCandleRecords = (rows: ReadonlyArray<unknown>) =>
  rows.every(isCandleRecord) ? Effect.succeed(rows as ReadonlyArray<CandleRecord>) : decodeAll(rows)

export const toCandleRow = (r: CandleRecord): CandleRow => ({
  candle: new Candle(
    {
      market: r.market as Market,
      symbol: r.symbol,
      interval: r.interval,
      bucketStart: r.bucketStart,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
      tickCount: r.tickCount,
      vwap: r.vwap,
      status: r.status,
      gaps: r.gaps,
      firstTradeId: r.firstTradeId,
      lastTradeId: r.lastTradeId
    },
    { disableValidation: true }
  ),
  indicators: {
    sma20: r.sma20,
    sma50: r.sma50,
    ema12: r.ema12,
    ema26: r.ema26,
    rsi14: r.rsi14,
    bollinger:
      r.bbUpper === null || r.bbMiddle === null || r.bbLower === null
        ? null
        : { upper: r.bbUpper, middle: r.bbMiddle, lower: r.bbLower }
  }
})
