import { Clock, Effect, Layer, Metric } from "effect"
import type { TradeVenue } from "../Config/Sources.js"
import { VenueConnections } from "../Http/Venues.js"
import { connectedGauge } from "../Venues/Metrics.js"

/**
 * Each venue connection's state, for /ready: whether its WebSocket is open comes from the connection layer's own
 * gauge (`venue_connected`, Venues/Metrics.ts), the rest from the venue sources this process started (their markets,
 * their last trade). One registry per process, like the metrics: a process runs each venue source at most once.
 */
export type ConnectionState = "connecting" | "open" | "closed"

export interface VenueStatus {
  readonly venue: TradeVenue
  readonly state: ConnectionState
  /** When the state was first seen as it is, epoch ms. */
  readonly since: number
  /** Why it is not open. */
  readonly reason?: string
  /** Receipt time of the last trade, epoch ms. */
  readonly lastTradeAt?: number
  readonly markets: number
}

interface Entry {
  readonly venue: TradeVenue
  readonly markets: number
  state: ConnectionState
  since: number
  lastTradeAt?: number
}

const registry = new Map<TradeVenue, Entry>()

/** A venue source starts with this many markets: connecting. */
export const register = (venue: TradeVenue, markets: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      registry.set(venue, { venue, markets, state: "connecting", since: now })
    })
  )

/** A trade arrived (over the WebSocket or from a REST fill). */
export const traded = (venue: TradeVenue, at: number) =>
  Effect.sync(() => {
    const entry = registry.get(venue)
    if (entry !== undefined) entry.lastTradeAt = at
  })

const observe = (entry: Entry, now: number) =>
  Effect.map(Metric.value(connectedGauge(entry.venue)), ({ value }): VenueStatus => {
    const state: ConnectionState = value > 0 ? "open" : entry.state === "connecting" ? "connecting" : "closed"
    if (state !== entry.state) {
      entry.state = state
      entry.since = now
    }
    return {
      venue: entry.venue,
      state,
      since: entry.since,
      markets: entry.markets,
      ...(state === "closed" ? { reason: "disconnected; reconnecting" } : {}),
      ...(entry.lastTradeAt === undefined ? {} : { lastTradeAt: entry.lastTradeAt })
    }
  })

/** Every venue source of this process, in the order they started. */
export const snapshot: Effect.Effect<ReadonlyArray<VenueStatus>> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
  Effect.forEach([...registry.values()], (entry) => observe(entry, now))
)

/** The registry as /ready's VenueConnections (src/Http/Venues.ts). */
export const connectionsLayer = Layer.succeed(VenueConnections, { snapshot })
