import type { Market } from "../../../src/Domain/Market.js"
import type * as F from "./Formats.js"
import type { FakeKline, KlineField } from "./Klines.js"
import type { RestLimit } from "./Rest.js"

/**
 * A venue of our own on loopback: a WebSocket server and the REST trade-history endpoint of Binance, Coinbase or
 * Kraken, in that venue's formats. Tests script it: trades with consecutive ids, gaps REST can fill and gaps it
 * cannot, duplicates, disconnects, heartbeats, pings, raw frames and rate limits. `trades(market)` is its truth.
 * Binance also sends each market's klines (FakeVenue/Klines.ts) to the clients subscribed to `<symbol>@kline_1m`: a
 * minute's closed kline once a trade of a later minute has been sent, and the open one now and then.
 */
export interface FakeVenueOptions {
  readonly venue: F.FakeVenueName
  readonly markets: ReadonlyArray<Market>
  /** The first trade id of every market (default 1000). */
  readonly firstId?: number
  /** The first trade's time, epoch ms (default 2024-01-01T00:00:00Z). */
  readonly startTime?: number
  /** Milliseconds between trades (default 1; 0 puts them all in one millisecond). */
  readonly spacingMs?: number
}

export interface FakeVenue {
  readonly venue: F.FakeVenueName
  /** ws://127.0.0.1:<port>; Binance clients add /ws or /stream?streams=… */
  readonly wsUrl: string
  /** http://127.0.0.1:<port>, the REST base URL. */
  readonly restUrl: string
  /** Every trade REST can serve for the market, in id order: the venue's truth (lost trades are not in it). */
  readonly trades: (market: Market) => ReadonlyArray<F.FakeTrade>
  /** Every closed minute's kline of the market as the venue sends it (corruptions and phantoms applied and flagged). */
  readonly klines: (market: Market) => ReadonlyArray<FakeKline>
  /** The kline of that minute is sent with `field` wrong. */
  readonly corruptKline: (market: Market, bucketStart: number, field: KlineField) => void
  /** The kline of that minute (not over yet) counts one more trade, which neither the stream nor REST ever serve. */
  readonly phantomTrade: (market: Market, bucketStart: number) => void
  /** Every REST request: path with query, and the status answered. */
  readonly requests: ReadonlyArray<{ readonly url: string; readonly status: number }>
  /** Every text frame clients sent, in order. */
  readonly received: ReadonlyArray<string>
  /** The payloads of the pongs clients answered pings with. */
  readonly pongs: ReadonlyArray<string>
  readonly connections: () => number
  /** Resolves once `n` clients are connected and subscribed to something. */
  readonly subscribed: (n?: number) => Promise<void>
  /** Makes `n` trades and sends them to the market's subscribers. */
  readonly send: (market: Market, n?: number) => ReadonlyArray<F.FakeTrade>
  /** Makes `n` trades that never go over the WebSocket; REST serves them (a fillable gap). */
  readonly gap: (market: Market, n?: number) => ReadonlyArray<F.FakeTrade>
  /** Skips `n` ids: neither the WebSocket nor REST ever has them (a gap no one can fill). */
  readonly lose: (market: Market, n?: number) => void
  /** Sends the last `n` trade frames again. */
  readonly duplicate: (n?: number) => void
  /** Sends the last `n` trade frames again in reverse order. */
  readonly reorder: (n: number) => void
  /** Sends the venue's heartbeat (Coinbase: per subscribed market; Binance has none and sends a ping instead). */
  readonly heartbeat: () => void
  /** A WebSocket ping with this payload to every client; their pongs land in `pongs`. */
  readonly ping: (payload?: string) => void
  /** Drops every client that has not answered the last ping, as Binance does (after a minute). */
  readonly dropUnanswered: () => number
  /** Holds every frame back (a stalled connection, for stale timers) until `resume`, which sends them in order. */
  readonly stall: () => void
  readonly resume: () => void
  /** Resolves once clients have sent `n` text frames in all. */
  readonly receivedCount: (n: number) => Promise<void>
  /** Sends any text (bad frames, unknown kinds) to every client. */
  readonly raw: (text: string) => void
  /** Binance's serverShutdown event. */
  readonly shutdown: () => void
  /** Drops every connection: abruptly (default), or with a close frame. */
  readonly disconnect: (how?: { readonly code: number; readonly reason?: string }) => void
  /** The next REST requests are refused with this status and Retry-After. */
  readonly rateLimit: (limit: RestLimit) => void
  readonly close: () => Promise<void>
}
