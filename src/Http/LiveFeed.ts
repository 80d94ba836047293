import { type Chunk, Context, Deferred, Duration, Effect, Layer, Stream } from "effect"
import { compare, type EventId, parse, zero } from "../Cache/EventId.js"
import { type FeedItem, LatestCache, type Origin, retained, withMarket } from "../Cache/LatestCache.js"
import type { Candle } from "../Domain/Candle.js"
import { marketParts } from "../Domain/Market.js"
import type { Update } from "../Domain/Update.js"
import * as Schedules from "../Schedules.js"
import { Broadcast, type Client, frameOf, join } from "./Broadcast.js"

export type { Client, FeedEvent } from "./Broadcast.js"
export { frameOf } from "./Broadcast.js"

/** A comment line: keeps proxies from timing the stream out and lets a dead peer be noticed. */
export const ping = new TextEncoder().encode(": ping\n\n")

/** Final buckets remembered per market and interval; older ones are only known to be at or before `floor`. */
const finalsKept = 16

/**
 * Which candles have been sent as `final`, per market and interval. A candle closes once and never changes after
 * (docs/completeness.md), and a bucket closes only after every earlier one of its market and interval; but the
 * processor replays what it had not checkpointed after a restart or a rebalance, so the same final candle, or the
 * provisional values that preceded it, can come again. Those are repeats, not revisions: not sent. Finals can arrive
 * out of bucket order (the cache writer keeps each candle's newest values in the order the candles were first
 * touched), so the recent ones are kept by bucket, not as a single newest.
 */
class Finals {
  private readonly byKey = new Map<string, { readonly recent: Set<number>; newest: number; floor: number }>()

  /** "candle" or "final" for this update, or undefined for a repeat of what a `final` event already settled. */
  eventOf(candle: Candle): "candle" | "final" | undefined {
    const key = `${candle.market} ${candle.interval}`
    const b = candle.bucketStart
    const known = this.byKey.get(key)
    if (candle.status === "provisional") return known !== undefined && b <= known.newest ? undefined : "candle"
    if (known === undefined) {
      this.byKey.set(key, { recent: new Set([b]), newest: b, floor: -Infinity })
      return "final"
    }
    if (b <= known.floor || known.recent.has(b)) return undefined
    known.recent.add(b)
    known.newest = Math.max(known.newest, b)
    if (known.recent.size > finalsKept) {
      const oldest = Math.min(...known.recent)
      known.recent.delete(oldest)
      known.floor = oldest
    }
    return "final"
  }
}

/** An update as its event, with its market: a tick (a trade too: with tradeId and side), a candle, a gap. */
const emitUpdate = (feed: Broadcast, finals: Finals, id: EventId, u: Update) => {
  switch (u._tag) {
    case "tick": {
      const tick = withMarket(u.tick)
      return feed.emit(id, "tick", tick.market, tick.symbol, JSON.stringify(tick))
    }
    case "candle": {
      // Each revision of a provisional candle goes out; its closing (status final or gap) once, as `final`.
      const event = finals.eventOf(u.candle)
      if (event === undefined) return
      // The candle's fields, its status among them, and its indicator values beside them.
      return feed.emit(
        id,
        event,
        u.candle.market,
        u.candle.symbol,
        JSON.stringify({ ...u.candle, indicators: u.indicators })
      )
    }
    case "gap":
      // The Gap record as the bus carries it (docs/markets.md).
      return feed.emit(id, "gap", u.gap.market, marketParts(u.gap.market).base, JSON.stringify(u.gap))
  }
}

/** Takes the shared feed's items into the broadcast: the ids in order, each update as its event (or none). */
const intakeOf = (feed: Broadcast, finals: Finals) => {
  // The first entry after an origin that does not say what came before it: resumes need it or a later id.
  let floorNext = false
  const onOrigin = (origin: Origin) => {
    if (origin.lost) {
      // Entries this feed never had are gone: no resume across them, and live clients missed them too.
      feed.floor = undefined
      feed.recent = []
      floorNext = true
      feed.emit(undefined, "reset", undefined, undefined, JSON.stringify({ reason: "replay-buffer", oldest: null }))
    } else if (feed.newest === undefined) {
      if (origin.after === undefined) floorNext = true
      else feed.newest = feed.floor = origin.after
    }
  }
  return (items: Iterable<FeedItem>) => {
    for (const item of items) {
      if (item._tag === "origin") {
        onOrigin(item)
        continue
      }
      // An id already had (the embedded cache can hand one over twice at a subscription) is skipped.
      if (feed.newest !== undefined && compare(item.id, feed.newest) <= 0) continue
      feed.newest = item.id
      if (floorNext) {
        feed.floor = item.id
        floorNext = false
      }
      emitUpdate(feed, finals, item.id, item.update)
    }
  }
}

/**
 * Sends `prefix`, the status, the events after `lastEventId` still in the buffer, then every live event,
 * until the scope closes. One synchronous step from the replay on, so nothing falls between it and the live events.
 * An id newer than this feed's newest that the shared feed gave (`given`): live events after it, once this feed has
 * them.
 */
const attacher =
  (feed: Broadcast, given: (id: EventId) => Effect.Effect<boolean>) =>
  (client: Client, from: { readonly lastEventId?: string | undefined; readonly prefix?: Uint8Array }) =>
    Effect.acquireRelease(
      Effect.gen(function* () {
        const lastEventId = from.lastEventId === undefined ? undefined : (parse(from.lastEventId) ?? zero)
        const ahead = lastEventId !== undefined && (feed.newest === undefined || compare(lastEventId, feed.newest) > 0)
        const known = ahead && (yield* given(lastEventId))
        const head = from.prefix === undefined ? [] : [from.prefix]
        head.push(frameOf(undefined, "status", feed.statusData()))
        const resumed = feed.resume(client, lastEventId)
        if (resumed !== "ahead") {
          client.write(join([...head, ...resumed]))
          feed.add(client, lastEventId)
        } else if (known) {
          client.write(join(head))
          feed.wait(client, lastEventId!)
        } else {
          // Never given (this feed restarted since, or the stream was reset): reload, then live events.
          client.write(join([...head, feed.reset("unknown-id")]))
          feed.add(client, undefined)
        }
      }),
      () => Effect.sync(() => feed.remove(client))
    )

/**
 * One cache subscription per process, broadcast to every SSE client: each event is encoded once and the
 * same bytes are handed to every client (a client that falls behind drops them, never slows anyone else),
 * with a short replay buffer so a client reconnecting with Last-Event-ID gets what it missed, and one
 * heartbeat timer for all clients.
 */
export const make = (options: { readonly replay?: number; readonly heartbeat?: Duration.DurationInput } = {}) =>
  Effect.gen(function* () {
    const cache = yield* LatestCache
    const feed = new Broadcast(options.replay ?? retained)
    const finals = new Finals()
    const { clients, waiting } = feed
    const closed = yield* Deferred.make<void>()

    const setCache = (up: boolean) =>
      up === feed.cacheUp
        ? Effect.void
        : Effect.suspend(() => {
            feed.cacheUp = up
            feed.emit(undefined, "status", undefined, undefined, feed.statusData())
            return Effect.logInfo(`live feed: cache subscription ${up ? "restored" : "lost"}`)
          })

    const intake = intakeOf(feed, finals)
    const take = (items: Chunk.Chunk<FeedItem>) =>
      Effect.zipRight(
        setCache(true),
        Effect.sync(() => intake(items))
      )

    // A resubscription continues after the newest id had, so nothing is had twice or skipped unnoticed.
    yield* Effect.suspend(() => Stream.runForEachChunk(cache.updates(feed.newest), take)).pipe(
      Effect.tapError(() => setCache(false)),
      Effect.retry(Schedules.resubscribe),
      Effect.forkScoped
    )

    yield* Effect.sync(() => {
      for (const client of clients) client.write(ping)
      for (const client of waiting.keys()) client.write(ping)
    }).pipe(Effect.delay(options.heartbeat ?? Duration.seconds(15)), Effect.forever, Effect.forkScoped)

    /** Whether `id`, newer than any this feed has had, is one the shared feed gave (another instance is ahead). */
    const given = (id: EventId) =>
      Effect.map(
        Effect.orElseSucceed(cache.newest, () => undefined),
        (newest) => newest !== undefined && compare(id, newest) <= 0
      )

    const attach = attacher(feed, given)

    return {
      attach,
      /** Resolves once the feed is closed: each client's response ends then. */
      closed: Deferred.await(closed),
      clients: Effect.sync(() => clients.size + waiting.size),
      cacheUp: Effect.sync(() => feed.cacheUp),
      /** Ends every client stream, so open SSE connections never hold up the server's shutdown. */
      close: Effect.zipRight(
        Deferred.succeed(closed, undefined),
        Effect.sync(() => {
          clients.clear()
          waiting.clear()
        })
      )
    } as const
  })

export class LiveFeed extends Context.Tag("app/LiveFeed")<LiveFeed, Effect.Effect.Success<ReturnType<typeof make>>>() {}

export const layer = Layer.scoped(LiveFeed, make())
