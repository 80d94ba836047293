import { Either, Predicate, Schema } from "effect"
import { Kline as VenueKline } from "../../Domain/Kline.js"
import type { Market } from "../../Domain/Market.js"
import { EpochMillis } from "../../Domain/Tick.js"
import { type Decimal, DecimalFromString, PositiveFromString, TradeId, type VenueTrade } from "../../Domain/Trade.js"
import { describeParseError } from "../../Text.js"
import { decodeAs, type Malformed, parseFrame, type Skipped, stringField, unknown } from "../Frame.js"

/** Binance spot market streams: every frame a connection can carry, read into one closed union. */

const AggTradeData = Schema.Struct({
  e: Schema.Literal("aggTrade"),
  E: EpochMillis,
  s: Schema.String.pipe(Schema.minLength(1)),
  a: TradeId,
  p: PositiveFromString,
  q: PositiveFromString,
  f: TradeId,
  l: TradeId,
  T: EpochMillis,
  m: Schema.Boolean
})

const KlineData = Schema.Struct({
  e: Schema.Literal("kline"),
  E: EpochMillis,
  s: Schema.String.pipe(Schema.minLength(1)),
  k: Schema.Struct({
    t: EpochMillis,
    T: EpochMillis,
    i: Schema.String,
    // -1 when the minute had no trade.
    f: Schema.Number.pipe(Schema.int(), Schema.between(-1, Number.MAX_SAFE_INTEGER)),
    L: Schema.Number.pipe(Schema.int(), Schema.between(-1, Number.MAX_SAFE_INTEGER)),
    o: DecimalFromString,
    c: DecimalFromString,
    h: DecimalFromString,
    l: DecimalFromString,
    v: DecimalFromString,
    n: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
    x: Schema.Boolean,
    q: DecimalFromString
  })
})

const ShutdownData = Schema.Struct({ e: Schema.Literal("serverShutdown"), E: EpochMillis })
const AckData = Schema.Struct({ result: Schema.Unknown, id: Schema.Union(Schema.Number, Schema.String) })
const ErrorData = Schema.Struct({
  code: Schema.Number,
  msg: Schema.String,
  id: Schema.optional(Schema.NullOr(Schema.Union(Schema.Number, Schema.String)))
})

/** An aggregate trade (`trade` carries the first and last raw trade ids it aggregates); `stream` is set when it came
 * through a combined stream. */
export interface AggTrade {
  readonly _tag: "AggTrade"
  readonly stream: string | undefined
  readonly trade: VenueTrade
  /** When Binance sent the event, epoch ms (the trade's own time is in `trade`). */
  readonly sentTime: number
}

/** Binance's own candle; `closed` once the interval is over (`x`): an oracle for ours. */
export interface Kline {
  readonly _tag: "Kline"
  readonly stream: string | undefined
  readonly symbol: string
  readonly interval: string
  readonly openTime: number
  readonly closeTime: number
  readonly firstTradeId: number
  readonly lastTradeId: number
  readonly open: Decimal
  readonly high: Decimal
  readonly low: Decimal
  readonly close: Decimal
  readonly volume: Decimal
  readonly quoteVolume: Decimal
  readonly trades: number
  readonly closed: boolean
}

/** The answer to a SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS request with this id. */
export interface Ack {
  readonly _tag: "Ack"
  readonly id: number | string
  readonly result: unknown
}

/** The server is about to close the connection: reconnect now. */
export interface ServerShutdown {
  readonly _tag: "ServerShutdown"
  readonly time: number
}

/** Binance refused a request (`{"code":2,"msg":"Invalid request: …","id":1}`, or wrapped in `error`). */
export interface VenueError {
  readonly _tag: "VenueError"
  readonly code: number
  readonly message: string
  readonly id: number | string | undefined
}

export type BinanceFrame = AggTrade | Kline | Ack | ServerShutdown | VenueError | Skipped

const toAggTrade = (d: typeof AggTradeData.Type, stream: string | undefined): AggTrade => ({
  _tag: "AggTrade",
  stream,
  trade: {
    symbol: d.s,
    tradeId: d.a,
    price: d.p,
    size: d.q,
    side: d.m ? "sell" : "buy",
    eventTime: d.T,
    firstTradeId: d.f,
    lastTradeId: d.l
  },
  sentTime: d.E
})

const toKline = ({ s, k }: typeof KlineData.Type, stream: string | undefined): Kline => ({
  _tag: "Kline",
  stream,
  symbol: s,
  interval: k.i,
  openTime: k.t,
  closeTime: k.T,
  firstTradeId: k.f,
  lastTradeId: k.L,
  open: k.o,
  high: k.h,
  low: k.l,
  close: k.c,
  volume: k.v,
  quoteVolume: k.q,
  trades: k.n,
  closed: k.x
})

const decodeVenueKline = Schema.decodeUnknownEither(VenueKline)

/**
 * A closed kline of `market` as the bus carries it (the decimals as Binance wrote them), checked by the Kline schema
 * (a 1m interval, ids from -1); what is wrong with it otherwise.
 */
export const venueKline = (market: Market, k: Kline, receivedAt: number): Either.Either<VenueKline, string> =>
  Either.mapLeft(
    decodeVenueKline({
      type: "kline",
      market,
      interval: k.interval,
      bucketStart: k.openTime,
      open: k.open.text,
      high: k.high.text,
      low: k.low.text,
      close: k.close.text,
      volume: k.volume.text,
      firstTradeId: k.firstTradeId,
      lastTradeId: k.lastTradeId,
      tradeCount: k.trades,
      receivedAt
    }),
    (e) => describeParseError(e, 300)
  )

type Decoded = Either.Either<BinanceFrame, Malformed>

/** An event (`e`), plain or from a combined stream. */
const readEvent = (kind: string, data: unknown, stream: string | undefined, text: string): Decoded => {
  switch (kind) {
    case "aggTrade":
      return Either.map(decodeAs(AggTradeData, kind, data, text), (d) => toAggTrade(d, stream))
    case "kline":
      return Either.map(decodeAs(KlineData, kind, data, text), (d) => toKline(d, stream))
    case "serverShutdown":
      return Either.map(decodeAs(ShutdownData, kind, data, text), (d) => ({ _tag: "ServerShutdown", time: d.E }))
    default:
      return Either.right(unknown(kind, text))
  }
}

const readError = (u: unknown, text: string): Decoded => {
  const wrapped = Predicate.isRecord(u) && Predicate.isRecord(u["error"]) ? { ...u["error"], id: u["id"] } : u
  return Either.map(decodeAs(ErrorData, "error", wrapped, text), (d) => ({
    _tag: "VenueError",
    code: d.code,
    message: d.msg,
    id: d.id ?? undefined
  }))
}

/** A reply to a request we sent: an ack (`result`) or a refusal (`error`, or `code` and `msg`). */
const readReply = (u: Record<string, unknown>, text: string): Decoded | undefined => {
  if ("error" in u || ("code" in u && "msg" in u)) return readError(u, text)
  if ("result" in u && "id" in u)
    return Either.map(decodeAs(AckData, "ack", u, text), (d) => ({ _tag: "Ack", id: d.id, result: d.result }))
  return undefined
}

/** One frame's text → what it is. Total: a frame we cannot read is Unknown or Malformed, never an exception. */
export const decodeBinanceFrame = (text: string): BinanceFrame => {
  const decoded = Either.flatMap(parseFrame(text), (u): Decoded => {
    if (!Predicate.isRecord(u)) return Either.right(unknown("?", text))
    const combined = typeof u["stream"] === "string" && "data" in u
    const data = combined ? u["data"] : u
    const stream = combined ? stringField(u, "stream") : undefined
    const kind = stringField(data, "e")
    if (kind !== undefined) return readEvent(kind, data, stream, text)
    // The WebSocket API wraps its events: {"event":{"e":"serverShutdown","E":…}}.
    const event = u["event"]
    const eventKind = stringField(event, "e")
    if (eventKind !== undefined) return readEvent(eventKind, event, stream, text)
    return readReply(u, text) ?? Either.right(unknown("?", text))
  })
  return Either.merge(decoded)
}
