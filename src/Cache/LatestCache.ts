import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { Tick } from "../Domain/Tick.js"
import type { Update } from "../Domain/Update.js"

export class CacheUnavailable extends Data.TaggedError("CacheUnavailable")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The fast, best-effort view: the latest tick per symbol (expiring after the TTL) and a live update channel.
 * Writes are idempotent overwrites, so a replay after a crash rewrites the same values.
 */
export interface LatestCacheShape {
  readonly kind: "redis" | "memory"
  /** Stores each tick as its symbol's latest (an overwrite, like SETEX) and publishes the updates. */
  readonly write: (ticks: ReadonlyArray<Tick>, updates: ReadonlyArray<Update>) => Effect.Effect<void, CacheUnavailable>
  readonly getAll: Effect.Effect<ReadonlyArray<Tick>, CacheUnavailable>
  readonly get: (symbol: string) => Effect.Effect<Option.Option<Tick>, CacheUnavailable>
  /** Live updates from now on; fails when the subscription is lost. */
  readonly updates: Stream.Stream<Update, CacheUnavailable>
  readonly isUp: Effect.Effect<boolean>
}

export class LatestCache extends Context.Tag("app/LatestCache")<LatestCache, LatestCacheShape>() {}

export const channel = "crypto:updates"
export const latestKey = (symbol: string) => `latest:${symbol}`
