import { Clock, Effect, Metric } from "effect"
import { type TradeVenue, tradeVenues } from "../Config/Sources.js"

/**
 * Each venue connection's state, for /ready and /metrics: set by the venue sources as their connections open and
 * close, and by every trade they deliver. One registry per process (like the metrics), since a process runs each
 * venue source at most once.
 */
export type ConnectionState = "connecting" | "open" | "closed"

export interface VenueStatus {
  readonly venue: TradeVenue
  readonly state: ConnectionState
  /** When the state last changed, epoch ms. */
  readonly since: number
  /** Why it closed, when it is closed. */
  readonly reason?: string
  /** Receipt time of the last trade, epoch ms. */
  readonly lastTradeAt?: number
  readonly markets: number
}

const registry = new Map<TradeVenue, VenueStatus>()

const connectionUp = Metric.gauge("venue_connection_up", {
  description: "1 while the venue's WebSocket is open, 0 while it connects or is closed"
})
const lastTradeSeconds = Metric.gauge("venue_last_trade_timestamp_seconds", {
  description: "Receipt time of the venue's last trade (age = time() - this)"
})

// Tagged once per venue: tagging anew per trade rebuilds and rehashes the key each time.
const tagged = <M extends Metric.Metric.Gauge<number>>(metric: M) =>
  new Map(tradeVenues.map((v) => [v, Metric.tagged(metric, "venue", v)] as const))
const upOf = tagged(connectionUp)
const lastTradeOf = tagged(lastTradeSeconds)

const set = (status: VenueStatus) =>
  Effect.suspend(() => {
    registry.set(status.venue, status)
    return Metric.set(upOf.get(status.venue) ?? connectionUp, status.state === "open" ? 1 : 0)
  })

/** A venue source starts: connecting, with this many markets. */
export const register = (venue: TradeVenue, markets: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => set({ venue, state: "connecting", since: now, markets }))

const change = (venue: TradeVenue, state: ConnectionState, at: number, reason?: string) =>
  Effect.suspend(() => {
    const before = registry.get(venue)
    const { reason: _, ...kept } = before ?? { venue, markets: 0 }
    return set({ ...kept, state, since: at, ...(reason === undefined ? {} : { reason }) })
  })

export const opened = (venue: TradeVenue, at: number) => change(venue, "open", at)
export const closed = (venue: TradeVenue, at: number, reason: string) => change(venue, "closed", at, reason)

/** A trade arrived: the connection (or its REST fill) works. */
export const traded = (venue: TradeVenue, at: number) =>
  Effect.suspend(() => {
    const before = registry.get(venue)
    // A trade over a connection nobody reported open still proves it is.
    const next: VenueStatus =
      before === undefined || before.state === "connecting"
        ? { venue, markets: before?.markets ?? 0, state: "open", since: at, lastTradeAt: at }
        : { ...before, lastTradeAt: at }
    return Effect.zipRight(set(next), Metric.set(lastTradeOf.get(venue) ?? lastTradeSeconds, at / 1000))
  })

/** Every registered venue, in registration order. */
export const snapshot = Effect.sync((): ReadonlyArray<VenueStatus> => [...registry.values()])

export interface VenueDependency {
  readonly kind: string
  readonly state: "up" | "down"
  readonly error?: string
}

const describeState = (s: VenueStatus): VenueDependency =>
  s.state === "open"
    ? { kind: "websocket", state: "up" }
    : {
        kind: "websocket",
        state: "down",
        error: s.state === "connecting" ? "connecting" : `closed: ${s.reason ?? "unknown reason"}`
      }

/** Each venue connection as a /ready dependency, named `venue:<venue>` (up while its WebSocket is open). */
export const dependencies = Effect.map(snapshot, (all) =>
  Object.fromEntries(all.map((s) => [`venue:${s.venue}`, describeState(s)] as const))
)
