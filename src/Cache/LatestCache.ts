import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { Market } from "../Domain/Market.js"
import { marketOf, Tick } from "../Domain/Tick.js"
import type { Update } from "../Domain/Update.js"

export class CacheUnavailable extends Data.TaggedError("CacheUnavailable")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The fast, best-effort view: the latest tick per market (expiring after the TTL) and a live update channel.
 * Writes are idempotent overwrites, so a replay after a crash rewrites the same values.
 */
export interface LatestCacheShape {
  readonly kind: "redis" | "memory"
  /** Stores each tick as its market's latest (`marketOf`; an overwrite, like SETEX) and publishes the updates. */
  readonly write: (ticks: ReadonlyArray<Tick>, updates: ReadonlyArray<Update>) => Effect.Effect<void, CacheUnavailable>
  /** The latest tick of every market with one, ordered by market. */
  readonly getAll: Effect.Effect<ReadonlyArray<Tick>, CacheUnavailable>
  /** The latest tick of one market (`venue:BASE-QUOTE`), if it has one that has not expired. */
  readonly get: (market: Market) => Effect.Effect<Option.Option<Tick>, CacheUnavailable>
  /** Live updates from now on; fails when the subscription is lost. */
  readonly updates: Stream.Stream<Update, CacheUnavailable>
  readonly isUp: Effect.Effect<boolean>
}

export class LatestCache extends Context.Tag("app/LatestCache")<LatestCache, LatestCacheShape>() {}

export const channel = "crypto:updates"
/** `latest:<market>`: a market's latest tick as JSON (docs/markets.md, "Redis"). */
export const latestKey = (market: Market) => `latest:${market}`
/** The set of markets with a latest tick (read instead of KEYS, which scans the whole keyspace). */
export const marketsKey = "latest:markets"

/** Orders ticks by market, the order `getAll` answers in. */
export const byMarket = (a: { readonly market: Market }, b: { readonly market: Market }) =>
  a.market < b.market ? -1 : a.market > b.market ? 1 : 0

/** A tick with its market written out (a sample from before markets has none): what the cache hands out. */
export const withMarket = (tick: Tick): Tick & { readonly market: Market } =>
  tick.market !== undefined
    ? (tick as Tick & { readonly market: Market })
    : (new Tick({ ...tick, market: marketOf(tick) }, true) as Tick & { readonly market: Market })
