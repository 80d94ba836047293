import { Either, ParseResult, Schema } from "effect"
import { Market } from "./Market.js"
import { EpochMillis } from "./Primitives.js"

/** A plain decimal as venues write prices and sizes: digits, an optional fraction; no sign, no exponent. */
const decimalPattern = /^\d+(\.\d+)?$/
/** Longest decimal text we read; a longer one is garbage, not a price. */
const maxDecimalText = 40

/**
 * A decimal read once from a venue: its value, and its exact text (sums, and the comparison with a venue's own
 * candle, can then be done on the text where a float would not do).
 */
export const Decimal = Schema.Struct({
  value: Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  text: Schema.String.pipe(Schema.pattern(decimalPattern), Schema.maxLength(maxDecimalText))
}).annotations({ identifier: "Decimal" })
export type Decimal = typeof Decimal.Type

/** A venue's decimal string ("0.001", "27000.10") → a Decimal; what is wrong with it, otherwise. */
export const readDecimal = (text: string): Either.Either<Decimal, string> => {
  if (text.length === 0) return Either.left("expected a decimal string, got an empty string")
  if (text.length > maxDecimalText) return Either.left(`expected a decimal string, got ${text.length} characters`)
  if (!decimalPattern.test(text)) return Either.left(`expected a plain non-negative decimal string, got "${text}"`)
  const value = Number(text)
  return Number.isFinite(value) ? Either.right({ value, text }) : Either.left(`"${text}" is out of range`)
}

/** JavaScript's shortest text for a number, with any exponent written out: 1e-7 → "0.0000001". */
const plainText = (value: number): string => {
  const s = String(value)
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)
  if (m === null) return s
  const digits = `${m[1]}${m[2] ?? ""}`
  const exponent = Number(m[3])
  return exponent < 0
    ? `0.${"0".repeat(-exponent - 1)}${digits}`
    : `${digits}${"0".repeat(exponent - digits.length + 1)}`
}

/** A JSON number (Kraken v2 sends numbers) → a Decimal, its text the shortest one that reads back to the number. */
export const decimalOfNumber = (value: number): Either.Either<Decimal, string> => {
  if (!Number.isFinite(value) || value < 0) return Either.left(`expected a finite non-negative number, got ${value}`)
  const text = plainText(value)
  return decimalPattern.test(text) && text.length <= maxDecimalText
    ? Either.right({ value, text })
    : Either.left(`${value} has no plain decimal text`)
}

/** A venue's decimal string ⇄ Decimal. */
export const DecimalFromString = Schema.transformOrFail(Schema.String, Decimal, {
  strict: true,
  decode: (s, _, ast) => Either.mapLeft(readDecimal(s), (message) => new ParseResult.Type(ast, s, message)),
  encode: (d) => ParseResult.succeed(d.text)
})

/** A JSON number ⇄ Decimal (Kraken v2). */
export const DecimalFromNumber = Schema.transformOrFail(Schema.Number, Decimal, {
  strict: true,
  decode: (n, _, ast) => Either.mapLeft(decimalOfNumber(n), (message) => new ParseResult.Type(ast, n, message)),
  encode: (d) => ParseResult.succeed(d.value)
})

/** A positive Decimal: a price, or a size (a trade of nothing is not a trade). */
export const PositiveDecimal = Decimal.pipe(
  Schema.filter((d) => d.value > 0 || "expected a positive amount"),
  Schema.annotations({ identifier: "PositiveDecimal" })
)

/** A venue's trade id: a non-negative safe integer, consecutive per market on every venue we read. */
export const TradeId = Schema.Number.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER)).annotations({
  identifier: "TradeId"
})

/** The taker's side: "buy" when the taker bought (lifted an ask). Venues say it differently; the decoders translate. */
export const Side = Schema.Literal("buy", "sell").annotations({ identifier: "Side" })
export type Side = typeof Side.Type

/** A trade as a venue frame or REST row gives it, before it is tied to one of our markets. */
export const VenueTrade = Schema.Struct({
  /** The venue's own symbol (BTCUSDT, BTC-USD, BTC/USD). */
  symbol: Schema.String,
  tradeId: TradeId,
  price: PositiveDecimal,
  size: PositiveDecimal,
  side: Side,
  /** The venue's trade time, epoch ms. */
  eventTime: EpochMillis,
  /** The raw trade ids an aggregate trade covers (Binance aggTrade `f`/`l`); absent when the trade is one raw trade. */
  firstTradeId: Schema.optional(TradeId),
  lastTradeId: Schema.optional(TradeId)
})
export type VenueTrade = typeof VenueTrade.Type

/** One trade of one market, as the venue sources emit it. */
export class Trade extends Schema.Class<Trade>("Trade")({
  market: Market,
  tradeId: TradeId,
  price: PositiveDecimal,
  size: PositiveDecimal,
  side: Side,
  /** The venue's trade time, epoch ms. */
  eventTime: EpochMillis,
  /** When the frame (or REST page) carrying it arrived, epoch ms. */
  receiptTime: EpochMillis,
  /** First and last raw trade id it aggregates (Binance aggTrade `f`/`l`); absent on Coinbase and Kraken. */
  firstTradeId: Schema.optional(TradeId),
  lastTradeId: Schema.optional(TradeId)
}) {}

/** A venue trade tied to its market, stamped with the time it arrived. */
export const toTrade = (market: Market, trade: VenueTrade, receiptTime: number): Trade =>
  new Trade(
    {
      market,
      tradeId: trade.tradeId,
      price: trade.price,
      size: trade.size,
      side: trade.side,
      eventTime: trade.eventTime,
      receiptTime,
      // Absent stays absent: Coinbase and Kraken trades encode as before.
      ...(trade.firstTradeId === undefined ? {} : { firstTradeId: trade.firstTradeId }),
      ...(trade.lastTradeId === undefined ? {} : { lastTradeId: trade.lastTradeId })
    },
    // Not validated again: the trade was decoded by VenueTrade, the market is branded, the receipt time is the
    // clock's. Validating here was a tenth of the venue path's time.
    true
  )

/** Trade ⇄ JSON string, for the bus and recordings. */
export const TradeJson = Schema.parseJson(Trade)

/** A positive amount from a venue's decimal string. */
export const PositiveFromString = Schema.compose(DecimalFromString, PositiveDecimal)
/** A positive amount from a JSON number (Kraken v2). */
export const PositiveFromNumber = Schema.compose(DecimalFromNumber, PositiveDecimal)
