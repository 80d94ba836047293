import { Context, Deferred, Effect, Layer, PubSub, Schedule, Stream } from "effect"
import { LatestCache } from "../Sinks/LatestCache.js"

/** One server-sent event as the feed keeps it: an increasing id, a name, a JSON payload. */
export interface FeedEvent {
  readonly id: number
  readonly event: "tick" | "candle" | "status"
  readonly symbol: string | undefined
  readonly data: string
}


/**
 * One cache subscription per process, fanned out to every SSE client through a sliding PubSub
 * (a slow client loses its oldest events, never slows anyone else), with a short replay buffer
 * so a client reconnecting with Last-Event-ID gets what it missed.
 */
export const make = (options: { readonly replay?: number } = {}) =>
  Effect.gen(function*() {
    const cache = yield* LatestCache
    const replaySize = options.replay ?? 2000
    const hub = yield* Effect.acquireRelease(PubSub.sliding<FeedEvent>(1024), PubSub.shutdown)
    const recent: Array<FeedEvent> = []
    const closed = yield* Deferred.make<void>()
    let nextId = 1
    let cacheUp = true

    const emit = (event: FeedEvent["event"], symbol: string | undefined, data: string) =>
      Effect.suspend(() => {
        const e: FeedEvent = { id: nextId++, event, symbol, data }
        recent.push(e)
        if (recent.length > replaySize * 1.5) recent.splice(0, recent.length - replaySize)
        return PubSub.publish(hub, e)
      })
    const statusData = () => JSON.stringify({ cache: cacheUp ? "up" : "down" })

    const setCache = (up: boolean) =>
      up === cacheUp ? Effect.void : Effect.suspend(() => {
        cacheUp = up
        return Effect.zipRight(
          Effect.logInfo(`live feed: cache subscription ${up ? "restored" : "lost"}`),
          emit("status", undefined, statusData())
        )
      })

    yield* cache.updates.pipe(
      Stream.tap(() => setCache(true)),
      Stream.runForEach((u) =>
        u._tag === "tick"
          ? emit("tick", u.tick.symbol, JSON.stringify(u.tick))
          : emit("candle", u.candle.symbol, JSON.stringify(u.candle))
      ),
      Effect.tapError(() => setCache(false)),
      Effect.retry(Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
      Effect.forkScoped
    )

    /** Events after `lastEventId` still in the buffer, then live ones; ends when the feed shuts down. */
    const events = (lastEventId: number | undefined): Stream.Stream<FeedEvent> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const subscription = yield* PubSub.subscribe(hub)
        const missed = lastEventId === undefined ? [] : recent.filter((e) => e.id > lastEventId)
        const after = missed.at(-1)?.id ?? 0
        const status: FeedEvent = { id: 0, event: "status", symbol: undefined, data: statusData() }
        return Stream.concat(
          Stream.fromIterable([status, ...missed]),
          Stream.fromQueue(subscription).pipe(Stream.filter((e) => e.id > after))
        ).pipe(Stream.interruptWhen(Deferred.await(closed)))
      }))

    return {
      events,
      cacheUp: Effect.sync(() => cacheUp),
      /** Ends every client stream, so open SSE connections never hold up the server's shutdown. */
      close: Deferred.succeed(closed, undefined)
    } as const
  })

export class LiveFeed extends Context.Tag("app/LiveFeed")<LiveFeed, Effect.Effect.Success<ReturnType<typeof make>>>() {}

export const layer = Layer.scoped(LiveFeed, make())
