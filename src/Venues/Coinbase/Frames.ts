import { Either, Predicate, Schema } from "effect"
import { PositiveFromString, type Side, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { decodeAs, IsoMillis, type Malformed, parseFrame, type Skipped, stringField, unknown } from "../Frame.js"

/** Coinbase Exchange's WebSocket feed (matches and heartbeat channels), read into one closed union. */

const ProductId = Schema.String.pipe(Schema.minLength(1))

const MatchData = Schema.Struct({
  type: Schema.Literal("match", "last_match"),
  trade_id: TradeId,
  side: Schema.Literal("buy", "sell"),
  size: PositiveFromString,
  price: PositiveFromString,
  product_id: ProductId,
  sequence: Schema.Number.pipe(Schema.int()),
  time: IsoMillis
})

const HeartbeatData = Schema.Struct({
  type: Schema.Literal("heartbeat"),
  sequence: Schema.Number.pipe(Schema.int()),
  last_trade_id: TradeId,
  product_id: ProductId,
  time: IsoMillis
})

const Channel = Schema.Union(
  Schema.String,
  Schema.Struct({ name: Schema.String, product_ids: Schema.optional(Schema.Array(Schema.String)) })
)
const SubscriptionsData = Schema.Struct({ type: Schema.Literal("subscriptions"), channels: Schema.Array(Channel) })

const ErrorData = Schema.Struct({
  type: Schema.Literal("error"),
  message: Schema.String,
  reason: Schema.optional(Schema.String)
})

/** A trade. `last` for the `last_match` a subscription starts with (the product's latest trade, maybe old). */
export interface Match {
  readonly _tag: "Match"
  readonly trade: VenueTrade
  readonly last: boolean
  /** The feed's sequence: counts every message of the product, so it jumps; continuity is by trade id. */
  readonly sequence: number
}

/** Once a second per product: `lastTradeId` says whether a match was missed. */
export interface Heartbeat {
  readonly _tag: "Heartbeat"
  readonly productId: string
  readonly lastTradeId: number
  readonly sequence: number
  readonly time: number
}

/** The answer to a subscribe: every channel the connection now has, with its products. */
export interface Subscriptions {
  readonly _tag: "Subscriptions"
  readonly channels: ReadonlyArray<{ readonly name: string; readonly productIds: ReadonlyArray<string> }>
}

/** Coinbase refused something (`{"type":"error","message":"Failed to subscribe","reason":"…"}`). */
export interface VenueError {
  readonly _tag: "VenueError"
  readonly message: string
  readonly reason: string | undefined
}

export type CoinbaseFrame = Match | Heartbeat | Subscriptions | VenueError | Skipped

/** `side` on a match is the maker's; ours is the taker's, the other one. */
const takerSide = (makerSide: Side): Side => (makerSide === "buy" ? "sell" : "buy")

const toMatch = (d: typeof MatchData.Type): Match => ({
  _tag: "Match",
  trade: {
    symbol: d.product_id,
    tradeId: d.trade_id,
    price: d.price,
    size: d.size,
    side: takerSide(d.side),
    eventTime: d.time
  },
  last: d.type === "last_match",
  sequence: d.sequence
})

type Decoded = Either.Either<CoinbaseFrame, Malformed>

const readType = (kind: string, u: unknown, text: string): Decoded => {
  switch (kind) {
    case "match":
    case "last_match":
      return Either.map(decodeAs(MatchData, kind, u, text), toMatch)
    case "heartbeat":
      return Either.map(decodeAs(HeartbeatData, kind, u, text), (d) => ({
        _tag: "Heartbeat",
        productId: d.product_id,
        lastTradeId: d.last_trade_id,
        sequence: d.sequence,
        time: d.time
      }))
    case "subscriptions":
      return Either.map(decodeAs(SubscriptionsData, kind, u, text), (d) => ({
        _tag: "Subscriptions",
        channels: d.channels.map((c) =>
          typeof c === "string" ? { name: c, productIds: [] } : { name: c.name, productIds: c.product_ids ?? [] }
        )
      }))
    case "error":
      return Either.map(decodeAs(ErrorData, kind, u, text), (d) => ({
        _tag: "VenueError",
        message: d.message,
        reason: d.reason
      }))
    default:
      return Either.right(unknown(kind, text))
  }
}

/** One frame's text → what it is. Total: a frame we cannot read is Unknown or Malformed, never an exception. */
export const decodeCoinbaseFrame = (text: string): CoinbaseFrame =>
  Either.merge(
    Either.flatMap(parseFrame(text), (u): Decoded => {
      const kind = stringField(u, "type")
      return Predicate.isRecord(u) && kind !== undefined ? readType(kind, u, text) : Either.right(unknown("?", text))
    })
  )
