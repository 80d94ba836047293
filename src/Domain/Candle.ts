import { Schema } from "effect"
import { CandleStatus, GapRef } from "./Completeness.js"
import { Interval } from "./Interval.js"
import { Market } from "./Market.js"
import { EpochMillis, Ticker } from "./Tick.js"
import { TradeId } from "./Trade.js"

/** What a candle and a candle being built (Aggregate's CandleState) both hold, in this order. */
export const ohlcvFields = {
  symbol: Ticker,
  interval: Interval,
  bucketStart: EpochMillis,
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  /** Sum of trade sizes of the ticks that carried one. */
  volume: Schema.Number,
  tickCount: Schema.Number.pipe(Schema.int())
}

/**
 * An OHLCV candle for one market, interval and event-time bucket; `symbol` is the market's base. The market is not in
 * `ohlcvFields`: a candle being built is kept under its market (Operator), so checkpoints need not repeat it.
 */
export class Candle extends Schema.Class<Candle>("Candle")({
  market: Market,
  ...ohlcvFields,
  /** Volume-weighted average price; the plain mean price when no tick carried a trade size. */
  vwap: Schema.Number,
  /** provisional while the bucket can change; final or gap once it cannot (docs/completeness.md). */
  status: CandleStatus,
  /** The unfilled gaps touching the bucket, in the order received; empty when none. */
  gaps: Schema.Array(GapRef),
  /** Smallest and largest raw trade id of the candle's trades; null for samples. */
  firstTradeId: Schema.NullOr(TradeId),
  lastTradeId: Schema.NullOr(TradeId)
}) {}
