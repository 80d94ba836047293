import { Either, Schema } from "effect"
import { EpochMillis } from "../../Domain/Tick.js"
import { PositiveFromString, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { describeParseError } from "../../Text.js"

/** GET /api/v3/aggTrades?symbol=&fromId=&limit= (oldest first): the rows a gap is filled from. */
const AggTradeRow = Schema.Struct({
  a: TradeId,
  p: PositiveFromString,
  q: PositiveFromString,
  f: TradeId,
  l: TradeId,
  T: EpochMillis,
  m: Schema.Boolean
})
const decodeRows = Schema.decodeUnknownEither(Schema.Array(AggTradeRow), { onExcessProperty: "ignore" })

/** An aggTrades answer → its trades for `symbol` (BTCUSDT), in the order given; or what is wrong with it. */
export const decodeAggTrades = (symbol: string, body: unknown): Either.Either<ReadonlyArray<VenueTrade>, string> =>
  Either.match(decodeRows(body), {
    onLeft: (e) => Either.left(`aggTrades: ${describeParseError(e, 300)}`),
    onRight: (rows) =>
      Either.right(
        rows.map((r) => ({
          symbol,
          tradeId: r.a,
          price: r.p,
          size: r.q,
          side: r.m ? "sell" : "buy",
          eventTime: r.T,
          firstTradeId: r.f,
          lastTradeId: r.l
        }))
      )
  })
