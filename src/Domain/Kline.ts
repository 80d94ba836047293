import { Schema } from "effect"
import { Market } from "./Market.js"
import { EpochMillis } from "./Primitives.js"

/** A plain decimal as the venue wrote it ("27000.10"): kept as text, so the check compares what the venue said. */
export const DecimalText = Schema.String.pipe(
  Schema.pattern(/^\d+(\.\d+)?$/),
  Schema.maxLength(40),
  Schema.annotations({ identifier: "DecimalText", description: "A non-negative decimal as text, e.g. 27000.10" })
)

/** A raw trade id, or -1 when the venue's candle holds no trade. */
const KlineTradeId = Schema.Number.pipe(Schema.int(), Schema.between(-1, Number.MAX_SAFE_INTEGER))

/**
 * A venue's own closed 1-minute candle (Binance `kline_1m` with `x: true`), a record on the bus beside the market's
 * trades (key = market): the reference our final 1m candle is checked against (docs/completeness.md). A record is a
 * kline when its JSON object has `type: "kline"`.
 */
export class Kline extends Schema.Class<Kline>("Kline")({
  type: Schema.Literal("kline"),
  market: Market,
  interval: Schema.Literal("1m"),
  /** The minute's start (`k.t`), epoch ms. */
  bucketStart: EpochMillis,
  open: DecimalText,
  high: DecimalText,
  low: DecimalText,
  close: DecimalText,
  /** Base-asset volume (`k.v`). */
  volume: DecimalText,
  /** First and last raw trade id (`k.f`, `k.L`); -1 when the minute had no trade. */
  firstTradeId: KlineTradeId,
  lastTradeId: KlineTradeId,
  /** Raw trades in the minute (`k.n`). */
  tradeCount: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  /** When the frame was received, epoch ms. */
  receivedAt: EpochMillis
}) {}

/** Kline ⇄ JSON string, for the bus. */
export const KlineJson = Schema.parseJson(Kline)
