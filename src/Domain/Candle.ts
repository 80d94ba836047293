import { Schema } from "effect"
import { Interval } from "./Interval.js"
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

/** An OHLCV candle for one symbol, interval and event-time bucket. */
export class Candle extends Schema.Class<Candle>("Candle")({
  ...ohlcvFields,
  /** Volume-weighted average price; the plain mean price when no tick carried a trade size. */
  vwap: Schema.Number
}) {}
