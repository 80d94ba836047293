import { Effect, Metric, Queue } from "effect"
import { LatestCache } from "../Cache/LatestCache.js"
import type { Gap } from "../Domain/Gap.js"
import type { Market } from "../Domain/Market.js"
import type { Tick } from "../Domain/Tick.js"
import { tickMarket } from "../Domain/TickMarket.js"
import type { Update } from "../Domain/Update.js"
import type { CandleRow } from "../Store/Store.js"
import { cacheUpdatesDropped } from "./Metrics.js"

/**
 * The fast path's intake: hands accepted ticks, the candles they changed and the gaps read to the writer; never waits
 * for the cache.
 */
export interface CacheWriter {
  readonly offer: (
    ticks: ReadonlyArray<Tick>,
    candles: ReadonlyMap<string, CandleRow>,
    gaps?: ReadonlyArray<Gap>
  ) => Effect.Effect<void>
}

const maxPendingUpdates = 20_000

/**
 * The cache writer, a fiber of the current scope. What waits for it, coalesced: the latest tick per market (SETEX), each
 * candle's newest values, and the tick and gap updates to PUBLISH in order. The writer takes it all at once, so a slow cache
 * means bigger writes, not a backlog; only tick updates can pile up, and past `maxPendingUpdates` the oldest are
 * dropped. Updates that never reach the cache (dropped so, or in a failed write) are counted in
 * `cache_updates_dropped_total`. A slow or dead Redis never blocks anything.
 */
export const make = Effect.gen(function* () {
  const cache = yield* LatestCache
  let pendingLatest = new Map<Market, Tick>()
  let pendingTickUpdates: Array<Update> = []
  let pendingCandles = new Map<string, Update>()
  const wake = yield* Queue.sliding<true>(1)
  const offer = (ticks: ReadonlyArray<Tick>, candles: ReadonlyMap<string, CandleRow>, gaps: ReadonlyArray<Gap> = []) =>
    Effect.suspend(() => {
      for (const tick of ticks) {
        pendingLatest.set(tickMarket(tick), tick)
        pendingTickUpdates.push({ _tag: "tick", tick })
      }
      for (const gap of gaps) pendingTickUpdates.push({ _tag: "gap", gap })
      for (const [key, row] of candles)
        pendingCandles.set(key, { _tag: "candle", candle: row.candle, indicators: row.indicators })
      const over = pendingTickUpdates.length - maxPendingUpdates
      if (over > 0) pendingTickUpdates.splice(0, over)
      return Effect.zipRight(
        over > 0 ? Metric.incrementBy(cacheUpdatesDropped, over) : Effect.void,
        Queue.offer(wake, true)
      )
    })
  let cacheDown = false
  const writeCache = Effect.suspend(() => {
    const ticks = [...pendingLatest.values()]
    const updates = pendingTickUpdates.concat([...pendingCandles.values()])
    pendingLatest = new Map()
    pendingTickUpdates = []
    pendingCandles = new Map()
    return cache.write(ticks, updates).pipe(
      Effect.timeout("2 seconds"),
      Effect.matchEffect({
        onFailure: (e) =>
          Metric.incrementBy(cacheUpdatesDropped, updates.length).pipe(
            Effect.zipRight(
              cacheDown
                ? Effect.void
                : Effect.logWarning(`latest cache write failed; the durable path goes on: ${e.message}`)
            ),
            Effect.tap(() => (cacheDown = true))
          ),
        onSuccess: () =>
          cacheDown
            ? Effect.logInfo("latest cache writes recovered").pipe(Effect.tap(() => (cacheDown = false)))
            : Effect.void
      })
    )
  })
  yield* Queue.take(wake).pipe(Effect.zipRight(writeCache), Effect.forever, Effect.forkScoped)
  return { offer } satisfies CacheWriter
})
