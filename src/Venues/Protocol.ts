import { Array as Arr, Duration, Predicate, type Stream } from "effect"
import { binanceStream, coinbaseProduct, krakenSymbol, type MarketParts } from "../Domain/Market.js"
import { type ConnectionOptions, type FrameEvent, frames } from "./Connection.js"

/**
 * What each venue's WebSocket wants from a client: where to connect for a set of markets, what to send once open,
 * how it keeps the connection alive, and when a connection is dead. The frames themselves are read downstream
 * (`<Venue>/Frames.ts`); this only opens and keeps the pipe.
 *
 * Pings: Binance and Coinbase ping at the WebSocket level; `ws` answers every ping frame with a pong echoing its
 * payload by itself (`autoPong`, on by default since ws 8.16), and Connection counts pings as liveness. Kraken v2 has
 * no server ping: the client may send `{"method":"ping"}` and gets `{"method":"pong"}`, and the heartbeat channel
 * comes once a second anyway; we send such a ping every 30 s so a half-open connection shows up as silence.
 */

export type TradeVenue = "binance" | "coinbase" | "kraken"
export const tradeVenues: ReadonlyArray<TradeVenue> = ["binance", "coinbase", "kraken"]

/** One WebSocket of a venue: the options for `Connection.frames`, and the markets it carries. */
export interface VenuePlan extends ConnectionOptions {
  readonly venue: TradeVenue
  readonly markets: ReadonlyArray<MarketParts>
  readonly subscribe: ReadonlyArray<string>
}

/** The venues' public endpoints (overridden by BINANCE_WS_URL, COINBASE_WS_URL, KRAKEN_WS_URL). */
export const defaultWsUrls: Readonly<Record<TradeVenue, string>> = {
  binance: "wss://stream.binance.com:9443",
  coinbase: "wss://ws-feed.exchange.coinbase.com",
  kraken: "wss://ws.kraken.com/v2"
}

// Binance: 1024 streams per connection, 5 incoming messages a second (pings, pongs and requests alike).
export const binanceStreamsPerConnection = 1024
/** Streams per market: its aggTrade and its kline_1m (the venue's own candle, the oracle for ours). */
export const binanceStreamsPerMarket = 2
/** Markets per connection: 512. */
export const binanceMarketsPerConnection = binanceStreamsPerConnection / binanceStreamsPerMarket
/** Streams named in the URL; the rest go in SUBSCRIBE messages, so the URL stays short (≈ 5 KB). */
export const binanceStreamsInUrl = 200
/** Streams per SUBSCRIBE message. */
export const binanceStreamsPerMessage = 200
/** Between two messages we send: 4 a second, under the 5 a second that gets a connection closed. */
export const binanceSendSpacing = Duration.millis(250)
/** Binance cuts a connection at 24 hours; we reconnect on our own terms a while before. */
export const binanceMaxAge = Duration.hours(23)

/** The combined-stream URL's base: `wss://host:port` whether it was given with `/ws`, `/stream` or a trailing `/`. */
const binanceOrigin = (base: string) => base.replace(/\/+$/, "").replace(/\/(ws|stream)$/, "")

const binancePlan = (markets: ReadonlyArray<MarketParts>, base: string): VenuePlan => {
  // A market's two streams side by side: both are in the URL, or both in one SUBSCRIBE (200 is even).
  const streams = markets.flatMap((m) => [`${binanceStream(m)}@aggTrade`, `${binanceStream(m)}@kline_1m`])
  const inUrl = streams.slice(0, binanceStreamsInUrl)
  const rest = Arr.chunksOf(streams.slice(binanceStreamsInUrl), binanceStreamsPerMessage)
  return {
    venue: "binance",
    markets,
    url: `${binanceOrigin(base)}/stream?streams=${inUrl.join("/")}`,
    subscribe: rest.map((params, i) => JSON.stringify({ method: "SUBSCRIBE", params, id: i + 1 })),
    sendSpacing: binanceSendSpacing,
    // Pings every 20 s count as liveness, so a quiet market does not look dead.
    staleAfter: Duration.seconds(60),
    maxAge: binanceMaxAge,
    closing: binanceClosing
  }
}

/** Binance's `serverShutdown` event (plain, in a combined stream, or wrapped in `event`): reconnect now. */
export const binanceClosing = (text: string): string | undefined => {
  if (!text.includes("serverShutdown")) return undefined
  try {
    const u: unknown = JSON.parse(text)
    const inner = Predicate.isRecord(u) ? (u["data"] ?? u["event"] ?? u) : undefined
    return Predicate.isRecord(inner) && inner["e"] === "serverShutdown" ? "serverShutdown" : undefined
  } catch {
    return undefined
  }
}

/** Coinbase: one subscribe, sent at once (a connection not subscribed within 5 s is closed). */
const coinbasePlan = (markets: ReadonlyArray<MarketParts>, base: string): VenuePlan => ({
  venue: "coinbase",
  markets,
  url: base,
  subscribe: [
    JSON.stringify({ type: "subscribe", product_ids: markets.map(coinbaseProduct), channels: ["matches", "heartbeat"] })
  ],
  // A heartbeat per product every second: 15 s of nothing is a dead connection.
  staleAfter: Duration.seconds(15)
})

/**
 * Kraken v2 trades with `snapshot: true`: each subscription starts with the pair's latest 50 trades. On a reconnect
 * they overlap what we have (duplicates, dropped by id) and cover a short outage without a REST call (Kraken's REST
 * is limited to about one request a second and pages by time, not id); and they tell continuity the latest id at
 * once, so a gap shows even on a pair that then stays quiet. Without the snapshot a gap would only show at the
 * pair's next trade. On the first connection they are real trades from just before the start.
 */
const krakenPlan = (markets: ReadonlyArray<MarketParts>, base: string): VenuePlan => ({
  venue: "kraken",
  markets,
  url: base,
  subscribe: [
    JSON.stringify({
      method: "subscribe",
      params: { channel: "trade", symbol: markets.map(krakenSymbol), snapshot: true },
      req_id: 1
    })
  ],
  staleAfter: Duration.seconds(15),
  keepAlive: { every: Duration.seconds(30), message: krakenPing }
})

/** Kraken's application-level ping; the pong comes back as a frame like any other. */
export const krakenPing = (n: number): string => JSON.stringify({ method: "ping", req_id: 1_000_000 + n })

/**
 * The connections a venue's markets need, each with its URL and subscribe messages: one for Coinbase and Kraken,
 * one per 512 markets for Binance (1024 streams: aggTrade and kline_1m each). Markets of other venues are ignored; no
 * markets, no connection.
 */
export const plans = (venue: TradeVenue, markets: ReadonlyArray<MarketParts>, baseUrl?: string): Array<VenuePlan> => {
  const mine = markets.filter((m) => m.venue === venue)
  if (mine.length === 0) return []
  const base = baseUrl ?? defaultWsUrls[venue]
  switch (venue) {
    case "binance":
      return Arr.chunksOf(mine, binanceMarketsPerConnection).map((group) => binancePlan(group, base))
    case "coinbase":
      return [coinbasePlan(mine, base)]
    case "kraken":
      return [krakenPlan(mine, base)]
  }
}

/** A venue's connection: its plan (the markets a reconnect concerns) and its events. */
export interface VenueConnection {
  readonly plan: VenuePlan
  readonly events: Stream.Stream<FrameEvent>
}

/**
 * Every connection a venue's markets need, ready to run (`overrides` from configuration or tests: staleAfter,
 * backoff, …). Almost always one; Binance past 512 markets has more, and an `Open` concerns only its plan's markets.
 */
export const venueConnections = (
  venue: TradeVenue,
  markets: ReadonlyArray<MarketParts>,
  baseUrl?: string,
  overrides: Partial<ConnectionOptions> = {}
): Array<VenueConnection> =>
  plans(venue, markets, baseUrl).map((plan) => ({ plan, events: frames({ ...plan, ...overrides }) }))
