import { Schema } from "effect"
import { Kline } from "./Kline.js"
import { Market } from "./Market.js"
import { EpochMillis } from "./Primitives.js"
import { TradeId } from "./Trade.js"

/**
 * Whether a candle can still change and whether it is whole (docs/completeness.md):
 * `provisional` while the market's watermark has not passed its bucket's end; `final` after; `gap` final too, but
 * touched by an unfilled gap (its `gaps` say which ids are missing). Final and gap candles never change again.
 */
export const CandleStatus = Schema.Literal("provisional", "final", "gap").annotations({ identifier: "CandleStatus" })
export type CandleStatus = typeof CandleStatus.Type

/** The ids of an unfilled gap that touches a candle. */
export const GapRef = Schema.Struct({ fromId: TradeId, toId: TradeId }).annotations({ identifier: "GapRef" })
export type GapRef = typeof GapRef.Type

/** What a check found: equal; different (`mismatched` names the fields); our candle touched by a gap (not compared); no candle of ours. */
export const CheckResult = Schema.Literal("match", "mismatch", "gap", "missing").annotations({
  identifier: "CheckResult"
})
export type CheckResult = typeof CheckResult.Type

/** The fields of our final 1m candle that a check compares. */
export const CheckedCandle = Schema.Struct({
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number,
  tickCount: Schema.Number,
  firstTradeId: Schema.NullOr(TradeId),
  lastTradeId: Schema.NullOr(TradeId)
}).annotations({ identifier: "CheckedCandle" })
export type CheckedCandle = typeof CheckedCandle.Type

/** One comparison of our final 1m candle with the venue's own (stored in `candle_checks`, key market + bucketStart). */
export class CandleCheck extends Schema.Class<CandleCheck>("CandleCheck")({
  market: Market,
  interval: Schema.Literal("1m"),
  bucketStart: EpochMillis,
  result: CheckResult,
  /** Fields that differ (open, high, low, close, volume, firstTradeId, lastTradeId), for a mismatch; else empty. */
  mismatched: Schema.Array(Schema.String),
  /** Our candle's values; null when we have none (`missing`). */
  ours: Schema.NullOr(CheckedCandle),
  theirs: Kline,
  /** The unfilled gaps touching our candle (for `gap`). */
  gaps: Schema.Array(GapRef),
  /** The market's newest event time when the check was made: deterministic, so a replay stores the same row. */
  checkedAt: EpochMillis
}) {}
