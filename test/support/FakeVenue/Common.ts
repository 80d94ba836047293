import { binanceSymbol, coinbaseProduct, krakenSymbol, type Market, marketParts } from "../../../src/Domain/Market.js"
import type { Side } from "../../../src/Domain/Trade.js"

/** What the fake venue's formats share: its trade, its state as the formats see it, and small readers. */

/** One trade the fake venue made: its truth, against which a source's output is checked. */
export interface FakeTrade {
  readonly market: Market
  /** The venue's own symbol for the market (BTCUSDT, BTC-USD, BTC/USD). */
  readonly symbol: string
  readonly tradeId: number
  readonly price: string
  readonly size: string
  /** The taker's side. */
  readonly side: Side
  /** Trade time, epoch ms. */
  readonly time: number
  /** The raw trade ids it aggregates (Binance aggTrade `f`/`l`); the trade id itself on Coinbase and Kraken. */
  readonly firstRawId: number
  readonly lastRawId: number
}

export type FakeVenueName = "binance" | "coinbase" | "kraken"

/** What a format may read from the fake's state. */
export interface Book {
  readonly markets: ReadonlyArray<Market>
  /** The trades REST can serve for a market, in id order (lost ones are not there). */
  readonly trades: (market: Market) => ReadonlyArray<FakeTrade>
  /** The highest trade id the venue has made for a market (sent, gapped or lost). */
  readonly lastId: (market: Market) => number | undefined
}

/** What a client's message asks for: frames to answer with, markets to add to its subscription. */
export interface Reply {
  readonly frames: ReadonlyArray<string>
  readonly subscribe: ReadonlyArray<Market>
  /** Kraken: send the recent trades of these markets as a snapshot. */
  readonly snapshot: boolean
  /** Binance: markets whose kline_1m stream it subscribes to. */
  readonly klines?: ReadonlyArray<Market>
}

export interface RestAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: unknown
}

export const venueSymbolOf = (venue: FakeVenueName, market: Market): string => {
  const parts = marketParts(market)
  return venue === "binance"
    ? binanceSymbol(parts)
    : venue === "coinbase"
      ? coinbaseProduct(parts)
      : krakenSymbol(parts)
}

export const iso = (ms: number) => new Date(ms).toISOString()
/** Microseconds, as Coinbase and Kraken write times. */
export const isoMicros = (ms: number) => `${iso(ms).slice(0, -1)}000Z`
export const byName = (book: Book, name: (m: Market) => string, value: string | null) =>
  book.markets.find((m) => name(m) === value)
export const limitOf = (url: URL, fallback: number, max: number) => {
  const n = Number(url.searchParams.get("limit") ?? url.searchParams.get("count") ?? fallback)
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback
}
export const none: Reply = { frames: [], subscribe: [], snapshot: false }
export const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    const u: unknown = JSON.parse(text)
    return typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
export const strings = (u: unknown): ReadonlyArray<string> =>
  Array.isArray(u) ? u.filter((s): s is string => typeof s === "string") : []
