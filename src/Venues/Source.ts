import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { type Duration, Effect, Stream } from "effect"
import { formatMarket, type Market, marketParts } from "../Domain/Market.js"
import type { ConnectionOptions } from "./Connection.js"
import type { LastId } from "./Continuity.js"
import type { FillBudget, VenueEvent } from "./GapFill.js"
import { fromFrames } from "./Pipeline.js"
import { venueConnections } from "./Protocol.js"
import { recordFrames, recordRest } from "./Recording.js"
import { httpTransport, makeClient, type RestLimits, type TradeVenue } from "./Rest.js"

/**
 * A venue's trades as the bus takes them: its WebSocket frames (Connection.ts), read by the venue's decoder, each
 * market's ids checked for continuity and jumps filled from REST (GapFill.ts), each market in id order. Never fails:
 * a venue down reconnects forever, a REST that will not answer turns into gap records. Each venue is its own stream;
 * the wiring merges them, so one venue's troubles never hold up another's.
 *
 * When a `Recording` service is provided (RECORD_FRAMES), every frame and REST answer is recorded as it passes.
 */

export type { LastId } from "./Continuity.js"
export type { VenueEvent } from "./GapFill.js"
export type { TradeVenue } from "./Rest.js"

/** The venues' public REST roots (overridden by BINANCE_REST_URL, COINBASE_REST_URL, KRAKEN_REST_URL). */
export const defaultRestUrls: Readonly<Record<TradeVenue, string>> = {
  binance: "https://api.binance.com",
  coinbase: "https://api.exchange.coinbase.com",
  kraken: "https://api.kraken.com"
}

export interface SourceOptions {
  readonly venue: TradeVenue
  /** The markets to stream; those of other venues are ignored. */
  readonly markets: ReadonlyArray<Market>
  /** WebSocket base URL (default the venue's public one, Protocol.defaultWsUrls). */
  readonly wsUrl?: string | undefined
  /** REST root (default `defaultRestUrls`). */
  readonly restUrl?: string | undefined
  /** Where each market's stream left off (the last trade on the bus): a jump from there is filled on start. */
  readonly lastIds?: ReadonlyMap<Market, LastId> | undefined
  /** REST spacing, Retry-After cap, retries (default `Rest.defaultLimits(venue)`). */
  readonly limits?: Partial<RestLimits> | undefined
  /** Pages and ids one fill may fetch (default `GapFill.defaultBudget`). */
  readonly budget?: FillBudget | undefined
  /** Timeout of one REST request (default 10 s). */
  readonly restTimeout?: Duration.DurationInput | undefined
  /** Trades a market may hold while it fills (default 10,000). */
  readonly buffer?: number | undefined
  /** Overrides of the connection's knobs (backoff, stale timer), for tests. */
  readonly connection?: Partial<Omit<ConnectionOptions, "venue" | "url">> | undefined
}

/** The venue's events, with the HTTP client from the context. */
export const streamWith = (options: SourceOptions): Stream.Stream<VenueEvent, never, HttpClient.HttpClient> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { venue } = options
      const markets = options.markets.filter((m) => marketParts(m).venue === venue)
      const transport = yield* httpTransport(options.restUrl ?? defaultRestUrls[venue], options.restTimeout)
      const rest = yield* makeClient({
        venue,
        transport,
        limits: options.limits,
        record: (a) => recordRest(venue, a.url, a.status, a.text, a.at)
      })
      // One connection per plan (Binance: per 512 markets), one REST client (and its limits) for them all.
      const connections = venueConnections(venue, markets.map(marketParts), options.wsUrl, options.connection)
      const streams = connections.map(({ plan, events }) =>
        fromFrames(events.pipe(recordFrames(venue)), {
          venue,
          markets: plan.markets.map(formatMarket),
          lastIds: options.lastIds,
          rest,
          budget: options.budget,
          buffer: options.buffer
        })
      )
      return Stream.mergeAll(streams, { concurrency: "unbounded" })
    })
  )

/** A venue's events, each market in id order, trades and gaps; never fails, never ends. */
export const stream = (options: SourceOptions): Stream.Stream<VenueEvent> =>
  // provideSome: a Recording service from outside (RECORD_FRAMES) stays visible.
  streamWith(options).pipe(Stream.provideSomeLayer(NodeHttpClient.layerUndici))
