import { Either, Predicate, Schema } from "effect"
import { PositiveFromString, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { describeParseError } from "../../Text.js"

/** GET /0/public/Trades?pair=&since= : rows after the `since` cursor (exclusive), oldest first, and the next cursor. */

/** [price, volume, time (s, fractional), side b|s, type m|l, misc, trade_id] */
const TradeRow = Schema.Tuple(
  PositiveFromString,
  PositiveFromString,
  Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  Schema.Literal("b", "s"),
  Schema.String,
  Schema.String,
  TradeId
)
const Answer = Schema.Struct({
  error: Schema.Array(Schema.String),
  result: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
const decodeAnswer = Schema.decodeUnknownEither(Answer)
const decodeRows = Schema.decodeUnknownEither(Schema.Array(TradeRow))

export interface TradesPage {
  readonly trades: ReadonlyArray<VenueTrade>
  /** The `since` of the next page. */
  readonly last: string
}

/** Why a page was refused: Kraken's error strings; `rateLimited` for EAPI:Rate limit exceeded. */
export interface Refusal {
  readonly message: string
  readonly rateLimited: boolean
}

const refusal = (message: string, rateLimited = false): Refusal => ({ message, rateLimited })

/** A Trades answer → the trades of `symbol` (our BTC/USD; the answer keys them XXBTZUSD or so), or why not. */
export const decodeTradesPage = (symbol: string, body: unknown): Either.Either<TradesPage, Refusal> => {
  const answer = decodeAnswer(body)
  if (Either.isLeft(answer)) return Either.left(refusal(`Trades: ${describeParseError(answer.left, 300)}`))
  const { error, result } = answer.right
  if (error.length > 0)
    return Either.left(
      refusal(
        error.join("; "),
        error.some((e) => e.startsWith("EAPI:Rate limit"))
      )
    )
  const last = result?.["last"]
  const key = Object.keys(result ?? {}).find((k) => k !== "last")
  if (!Predicate.isString(last) || key === undefined) return Either.left(refusal("Trades: no rows or no last cursor"))
  return Either.match(decodeRows(result?.[key]), {
    onLeft: (e) => Either.left(refusal(`Trades ${key}: ${describeParseError(e, 300)}`)),
    onRight: (rows) =>
      Either.right({
        trades: rows.map(([price, size, time, side, , , tradeId]) => ({
          symbol,
          tradeId,
          price,
          size,
          side: side === "b" ? "buy" : "sell",
          // To the microsecond first: 1704067200.001 * 1000 is 1704067200000.9998.
          eventTime: Math.floor(Math.round(time * 1e6) / 1000)
        })),
        last
      })
  })
}
