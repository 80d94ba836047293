import { Clock, Duration, Effect, Layer, Option, PubSub, Stream } from "effect"
import type { Market } from "../Domain/Market.js"
import type { Tick } from "../Domain/Tick.js"
import { byMarket, type Entry, type FeedItem, LatestCache, withMarket } from "./LatestCache.js"

/** The embedded cache: Redis's latest-with-TTL per market and pub/sub, in memory. */
export const make = (ttl: Duration.DurationInput) =>
  Effect.gen(function* () {
    const ttlMillis = Duration.toMillis(Duration.decode(ttl))
    const latest = new Map<Market, { readonly tick: Tick; readonly expires: number }>()
    // Sliding: a slow subscriber loses old updates instead of slowing the processor.
    const hub = yield* Effect.acquireRelease(PubSub.sliding<Entry>(4096), PubSub.shutdown)
    // One process: its ids are a counter of its own (a restart starts again from 1, and the feed says `unknown-id`).
    let next = 1

    const live = (now: number) => (entry: { readonly tick: Tick; readonly expires: number } | undefined) =>
      entry !== undefined && entry.expires > now ? Option.some(entry.tick) : Option.none()

    return LatestCache.of({
      kind: "memory",
      write: (ticks, updates) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          for (const tick of ticks) {
            const t = withMarket(tick)
            latest.set(t.market, { tick: t, expires: now + ttlMillis })
          }
          yield* PubSub.publishAll(
            hub,
            updates.map((update): Entry => {
              const n = next++
              return { _tag: "entry", id: { ms: n, seq: 0, text: String(n) }, update }
            })
          )
        }),
      getAll: Effect.map(Clock.currentTimeMillis, (now) =>
        [...latest.values()].flatMap((e) => Option.toArray(live(now)(e))).sort(byMarketOf)
      ),
      get: (market) => Effect.map(Clock.currentTimeMillis, (now) => live(now)(latest.get(market))),
      // Never lost, so `after` does not matter. Subscribed before the origin is read: an entry published in between comes
      // twice (the feed skips ids it has had), never not at all.
      updates: () =>
        Stream.unwrapScoped(
          Effect.map(PubSub.subscribe(hub), (queue) => {
            const after = { ms: next - 1, seq: 0, text: String(next - 1) }
            return Stream.concat(
              Stream.make<Array<FeedItem>>({ _tag: "origin", after, lost: false }),
              Stream.fromQueue(queue)
            )
          })
        ),
      newest: Effect.sync(() => (next > 1 ? { ms: next - 1, seq: 0, text: String(next - 1) } : undefined)),
      isUp: Effect.succeed(true)
    })
  })

const byMarketOf = (a: Tick, b: Tick) => byMarket(withMarket(a), withMarket(b))

export const layer = (ttl: Duration.DurationInput) => Layer.scoped(LatestCache, make(ttl))
