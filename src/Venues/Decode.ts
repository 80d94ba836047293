import type { VenueTrade } from "../Domain/Trade.js"
import { shorten } from "../Text.js"
import { decodeBinanceFrame, type Kline } from "./Binance/Frames.js"
import { decodeCoinbaseFrame } from "./Coinbase/Frames.js"
import { decodeKrakenFrame } from "./Kraken/Frames.js"
import type { TradeVenue } from "./Rest.js"

/** One frame of any venue, reduced to what the venue source needs: its trades, or why it was skipped. */
export type FrameRead =
  | { readonly _tag: "Trades"; readonly trades: ReadonlyArray<VenueTrade> }
  /** Coinbase's heartbeat: the product's last trade id, so a missed match at the tail is seen. */
  | { readonly _tag: "Heartbeat"; readonly symbol: string; readonly lastTradeId: number; readonly time: number }
  /** Binance's closed kline (`x: true`): the venue's own candle. Open ones are Other: expected, not skipped. */
  | { readonly _tag: "Kline"; readonly kline: Kline; readonly excerpt: string }
  | { readonly _tag: "Skipped"; readonly kind: string; readonly reason: string; readonly excerpt: string }
  /** The venue refused something (a subscription): logged. */
  | { readonly _tag: "Refused"; readonly message: string }
  /** Acks, pongs, statuses, open klines: nothing for the stream. */
  | { readonly _tag: "Other" }

const other: FrameRead = { _tag: "Other" }

const binance = (text: string): FrameRead => {
  const f = decodeBinanceFrame(text)
  switch (f._tag) {
    case "AggTrade":
      return { _tag: "Trades", trades: [f.trade] }
    case "Kline":
      return f.closed ? { _tag: "Kline", kline: f, excerpt: shorten(text, 200) } : other
    case "Unknown":
      return { _tag: "Skipped", kind: f.kind, reason: "unknown kind", excerpt: f.excerpt }
    case "Malformed":
      return { _tag: "Skipped", kind: f.kind, reason: f.reason, excerpt: f.excerpt }
    case "VenueError":
      return { _tag: "Refused", message: `${f.code} ${f.message}` }
    default:
      return other
  }
}

const coinbase = (text: string): FrameRead => {
  const f = decodeCoinbaseFrame(text)
  switch (f._tag) {
    case "Match":
      return { _tag: "Trades", trades: [f.trade] }
    case "Heartbeat":
      return { _tag: "Heartbeat", symbol: f.productId, lastTradeId: f.lastTradeId, time: f.time }
    case "Unknown":
      return { _tag: "Skipped", kind: f.kind, reason: "unknown kind", excerpt: f.excerpt }
    case "Malformed":
      return { _tag: "Skipped", kind: f.kind, reason: f.reason, excerpt: f.excerpt }
    case "VenueError":
      return { _tag: "Refused", message: `${f.message}${f.reason === undefined ? "" : `: ${f.reason}`}` }
    default:
      return other
  }
}

const kraken = (text: string): FrameRead => {
  const f = decodeKrakenFrame(text)
  switch (f._tag) {
    case "Trades":
      return { _tag: "Trades", trades: f.trades }
    case "Unknown":
      return { _tag: "Skipped", kind: f.kind, reason: "unknown kind", excerpt: f.excerpt }
    case "Malformed":
      return { _tag: "Skipped", kind: f.kind, reason: f.reason, excerpt: f.excerpt }
    case "VenueError":
      return { _tag: "Refused", message: `${f.method}: ${f.message}` }
    default:
      return other
  }
}

/** A frame's text → its trades (in the order given) or what else it is. Total. */
export const readFrame = (venue: TradeVenue, text: string): FrameRead =>
  venue === "binance" ? binance(text) : venue === "coinbase" ? coinbase(text) : kraken(text)
