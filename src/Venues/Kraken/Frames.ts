import { Either, Schema } from "effect"
import { PositiveFromNumber, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { decodeAs, IsoMillis, type Malformed, parseFrame, type Skipped, stringField, unknown } from "../Frame.js"

/** Kraken spot WebSocket v2 (trade channel, heartbeat, status, method replies), read into one closed union. */

const TradeData = Schema.Struct({
  symbol: Schema.String.pipe(Schema.minLength(1)),
  side: Schema.Literal("buy", "sell"),
  price: PositiveFromNumber,
  qty: PositiveFromNumber,
  ord_type: Schema.optional(Schema.String),
  trade_id: TradeId,
  timestamp: IsoMillis
})

const TradeMessage = Schema.Struct({
  channel: Schema.Literal("trade"),
  type: Schema.Literal("snapshot", "update"),
  data: Schema.Array(TradeData)
})

const StatusMessage = Schema.Struct({
  channel: Schema.Literal("status"),
  data: Schema.NonEmptyArray(
    Schema.Struct({
      system: Schema.String,
      api_version: Schema.optional(Schema.String),
      connection_id: Schema.optional(Schema.Number),
      version: Schema.optional(Schema.String)
    })
  )
})

const ReqId = Schema.optional(Schema.Number.pipe(Schema.int()))

const Reply = Schema.Struct({
  method: Schema.String,
  success: Schema.optional(Schema.Boolean),
  error: Schema.optional(Schema.String),
  req_id: ReqId,
  symbol: Schema.optional(Schema.String),
  result: Schema.optional(
    Schema.Struct({ channel: Schema.optional(Schema.String), symbol: Schema.optional(Schema.String) })
  )
})

/** Trades of one message (Kraken batches them); `snapshot` for the recent trades a subscription starts with. */
export interface Trades {
  readonly _tag: "Trades"
  readonly snapshot: boolean
  readonly trades: ReadonlyArray<VenueTrade>
}

/** About once a second when nothing else is sent. */
export interface Heartbeat {
  readonly _tag: "Heartbeat"
}

/** The engine's state, first on every connection: `online`, `maintenance`, `cancel_only`, `post_only`. */
export interface Status {
  readonly _tag: "Status"
  readonly system: string
  readonly connectionId: number | undefined
}

/** A subscribe or unsubscribe that succeeded, for one channel and symbol. */
export interface Ack {
  readonly _tag: "Ack"
  readonly method: string
  readonly channel: string | undefined
  readonly symbol: string | undefined
  readonly reqId: number | undefined
}

/** The answer to our application-level `{"method":"ping"}`. */
export interface Pong {
  readonly _tag: "Pong"
  readonly reqId: number | undefined
}

/** A request refused (`success: false`, or `method: "error"`), e.g. "Currency pair not supported XBT/USD". */
export interface VenueError {
  readonly _tag: "VenueError"
  readonly method: string
  readonly message: string
  readonly symbol: string | undefined
  readonly reqId: number | undefined
}

export type KrakenFrame = Trades | Heartbeat | Status | Ack | Pong | VenueError | Skipped

const toTrades = (m: typeof TradeMessage.Type): Trades => ({
  _tag: "Trades",
  snapshot: m.type === "snapshot",
  trades: m.data.map((t) => ({
    symbol: t.symbol,
    tradeId: t.trade_id,
    price: t.price,
    size: t.qty,
    side: t.side,
    eventTime: t.timestamp
  }))
})

type Decoded = Either.Either<KrakenFrame, Malformed>

const readChannel = (channel: string, u: unknown, text: string): Decoded => {
  switch (channel) {
    case "trade":
      return Either.map(decodeAs(TradeMessage, channel, u, text), toTrades)
    case "heartbeat":
      return Either.right({ _tag: "Heartbeat" })
    case "status":
      return Either.map(decodeAs(StatusMessage, channel, u, text), (m) => ({
        _tag: "Status",
        system: m.data[0].system,
        connectionId: m.data[0].connection_id
      }))
    default:
      return Either.right(unknown(channel, text))
  }
}

const readReply = (u: unknown, text: string): Decoded =>
  Either.map(decodeAs(Reply, "reply", u, text), (r): KrakenFrame => {
    if (r.success === false || r.method === "error" || r.error !== undefined) {
      const message = r.error ?? "refused without a reason"
      return { _tag: "VenueError", method: r.method, message, symbol: r.symbol ?? r.result?.symbol, reqId: r.req_id }
    }
    if (r.method === "pong") return { _tag: "Pong", reqId: r.req_id }
    if (r.method === "subscribe" || r.method === "unsubscribe") {
      const result = r.result
      return { _tag: "Ack", method: r.method, channel: result?.channel, symbol: result?.symbol, reqId: r.req_id }
    }
    return unknown(`method:${r.method}`, text)
  })

/** One frame's text → what it is. Total: a frame we cannot read is Unknown or Malformed, never an exception. */
export const decodeKrakenFrame = (text: string): KrakenFrame =>
  Either.merge(
    Either.flatMap(parseFrame(text), (u): Decoded => {
      const channel = stringField(u, "channel")
      if (channel !== undefined) return readChannel(channel, u, text)
      if (stringField(u, "method") !== undefined) return readReply(u, text)
      return Either.right(unknown("?", text))
    })
  )
