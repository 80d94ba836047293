import { Either, Schema } from "effect"
import { PositiveFromString, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { describeParseError } from "../../Text.js"
import { IsoMillis } from "../Frame.js"

/** GET /products/<id>/trades?after=&limit= (newest first; `after` pages to older trades). */
const TradeRow = Schema.Struct({
  time: IsoMillis,
  trade_id: TradeId,
  price: PositiveFromString,
  size: PositiveFromString,
  side: Schema.Literal("buy", "sell")
})
const decodeRows = Schema.decodeUnknownEither(Schema.Array(TradeRow), { onExcessProperty: "ignore" })

/** One page, and the cursors to the pages either side of it (the CB-BEFORE / CB-AFTER headers). */
export interface TradesPage {
  readonly trades: ReadonlyArray<VenueTrade>
  /** Pass as `before` for newer trades. */
  readonly before: string | undefined
  /** Pass as `after` for older trades. */
  readonly after: string | undefined
}

/** A /products/<id>/trades answer → its trades (newest first, as given), sides made the taker's. */
export const decodeTradesPage = (
  productId: string,
  body: unknown,
  headers: { readonly get: (name: string) => string | null }
): Either.Either<TradesPage, string> =>
  Either.match(decodeRows(body), {
    onLeft: (e) => Either.left(`products/${productId}/trades: ${describeParseError(e, 300)}`),
    onRight: (rows) =>
      Either.right({
        trades: rows.map((r) => ({
          symbol: productId,
          tradeId: r.trade_id,
          price: r.price,
          size: r.size,
          // The maker's side, as on the feed.
          side: r.side === "buy" ? "sell" : "buy",
          eventTime: r.time
        })),
        before: headers.get("cb-before") ?? undefined,
        after: headers.get("cb-after") ?? undefined
      })
  })
