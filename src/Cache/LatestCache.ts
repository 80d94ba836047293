import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { Market } from "../Domain/Market.js"
import { marketOf, Tick } from "../Domain/Tick.js"
import type { Update } from "../Domain/Update.js"
import type { EventId } from "./EventId.js"

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
  /**
   * The shared feed: every update with its id (EventId.ts), in order. First an `origin`, then entries: on Redis the
   * retained window of the `crypto:events` stream, then live ones; in memory, live ones from now. `after` (the last id
   * the caller got) continues a lost subscription: an `origin` with `lost: true` first when entries after it are gone.
   * Fails when the subscription is lost.
   */
  readonly updates: (after?: EventId) => Stream.Stream<FeedItem, CacheUnavailable>
  /** The newest id the shared feed has given (none yet: undefined): tells an id another instance gave from a stale one. */
  readonly newest: Effect.Effect<EventId | undefined, CacheUnavailable>
  readonly isUp: Effect.Effect<boolean>
}

/** One update of the shared feed and its id. */
export interface Entry {
  readonly _tag: "entry"
  readonly id: EventId
  readonly update: Update
}

/**
 * Where the entries that follow start: every entry after `after` follows (undefined: the entries before the first that
 * follows are not known, e.g. trimmed from the stream). `lost`: a resubscription found entries it had not seen gone.
 */
export interface Origin {
  readonly _tag: "origin"
  readonly after: EventId | undefined
  readonly lost: boolean
}

export type FeedItem = Entry | Origin

export class LatestCache extends Context.Tag("app/LatestCache")<LatestCache, LatestCacheShape>() {}

export const channel = "crypto:updates"
/** The stream beside the channel: the same messages, with ids every `api` instance shares (README, "Scaling"). */
export const streamKey = "crypto:events"
/**
 * Entries the stream keeps (at least; trimmed with MAXLEN ~), and the events each feed keeps for a resume: a client
 * that was away for fewer updates than this resumes on any instance.
 */
export const retained = 10_000
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
