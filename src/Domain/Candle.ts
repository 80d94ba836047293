import { Schema } from "effect"
import { Interval } from "./Interval.js"
import { Market } from "./Market.js"
import { EpochMillis, Ticker } from "./Tick.js"

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
  vwap: Schema.Number
}) {}
