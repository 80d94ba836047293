import { Clock, Duration, Effect, Layer, Option, PubSub, Stream } from "effect"
import type { Market } from "../Domain/Market.js"
import type { Tick } from "../Domain/Tick.js"
import type { Update } from "../Domain/Update.js"
import { byMarket, LatestCache, withMarket } from "./LatestCache.js"

/** The embedded cache: Redis's latest-with-TTL per market and pub/sub, in memory. */
export const make = (ttl: Duration.DurationInput) =>
  Effect.gen(function* () {
    const ttlMillis = Duration.toMillis(Duration.decode(ttl))
    const latest = new Map<Market, { readonly tick: Tick; readonly expires: number }>()
    // Sliding: a slow subscriber loses old updates instead of slowing the processor.
    const hub = yield* Effect.acquireRelease(PubSub.sliding<Update>(4096), PubSub.shutdown)

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
          yield* PubSub.publishAll(hub, updates)
        }),
      getAll: Effect.map(Clock.currentTimeMillis, (now) =>
        [...latest.values()].flatMap((e) => Option.toArray(live(now)(e))).sort(byMarketOf)
      ),
      get: (market) => Effect.map(Clock.currentTimeMillis, (now) => live(now)(latest.get(market))),
      updates: Stream.fromPubSub(hub),
      isUp: Effect.succeed(true)
    })
  })

const byMarketOf = (a: Tick, b: Tick) => byMarket(withMarket(a), withMarket(b))

export const layer = (ttl: Duration.DurationInput) => Layer.scoped(LatestCache, make(ttl))
