import { SqlError } from "@effect/sql"
import { Effect, Layer, Stream } from "effect"
import type { BusShape } from "../../src/Bus/Bus.js"
import { Bus, BusError } from "../../src/Bus/Bus.js"
import { CacheUnavailable, LatestCache, type LatestCacheShape } from "../../src/Cache/LatestCache.js"
import { Store } from "../../src/Store/Store.js"

/**
 * Fault injection for the adapters, by wrapping them: a switchboard the test flips while the pipeline runs.
 * Down means every call fails as the real adapter fails when its server is away; `slow` adds latency;
 * `crashAtCommit` makes the n-th commit of the current processor die, as if the process were killed there.
 */
export interface Switchboard {
  cacheDown: boolean
  databaseDown: boolean
  busDown: boolean
  slowMillis: number
  commits: number
  crashAtCommit: number | undefined
}

export const switchboard = (): Switchboard => ({
  cacheDown: false,
  databaseDown: false,
  busDown: false,
  slowMillis: 0,
  commits: 0,
  crashAtCommit: undefined
})

/** The injected crash: only this defect is an expected way for the processor to die. */
export class InjectedCrash extends Error {
  constructor() {
    super("injected crash")
  }
}

const slow = (s: Switchboard) => Effect.suspend(() => (s.slowMillis > 0 ? Effect.sleep(s.slowMillis) : Effect.void))

const guard =
  <E>(down: () => boolean, fail: () => E) =>
  <A, E2, R>(effect: Effect.Effect<A, E2, R>): Effect.Effect<A, E | E2, R> =>
    Effect.suspend((): Effect.Effect<A, E | E2, R> => (down() ? Effect.fail(fail()) : effect))

export const faultyCache = (s: Switchboard, cache: LatestCacheShape): LatestCacheShape => {
  const g = guard(
    () => s.cacheDown,
    () => new CacheUnavailable({ message: "injected: cache down" })
  )
  return {
    ...cache,
    write: (ticks, updates) => g(Effect.zipRight(slow(s), cache.write(ticks, updates))),
    getAll: g(cache.getAll),
    get: (symbol) => g(cache.get(symbol)),
    updates: Stream.unwrap(g(Effect.succeed(cache.updates))),
    isUp: Effect.sync(() => !s.cacheDown)
  }
}

export const faultyStore = (s: Switchboard, store: Store["Type"]): Store["Type"] => {
  const g = guard(
    () => s.databaseDown,
    () => new SqlError.SqlError({ message: "injected: database down" })
  )
  return {
    ...store,
    commit: (batch) =>
      Effect.suspend(() => {
        s.commits++
        if (s.commits === s.crashAtCommit) return Effect.die(new InjectedCrash())
        return g(Effect.zipRight(slow(s), store.commit(batch)))
      }),
    claim: (topic, partitions, owner) => g(store.claim(topic, partitions, owner)),
    candles: (q) => g(store.candles(q)),
    symbols: g(store.symbols),
    ping: g(store.ping)
  }
}

export const faultyBus = (s: Switchboard, bus: BusShape): BusShape => {
  const g = guard(
    () => s.busDown,
    () => new BusError({ reason: "publish", message: "injected: bus down" })
  )
  return { ...bus, publish: (topic, messages) => g(bus.publish(topic, messages)) }
}

export const layers = (s: Switchboard) => ({
  cache: Layer.effect(
    LatestCache,
    Effect.map(LatestCache, (c) => faultyCache(s, c))
  ),
  store: Layer.effect(
    Store,
    Effect.map(Store, (st) => faultyStore(s, st))
  ),
  bus: Layer.effect(
    Bus,
    Effect.map(Bus, (b) => faultyBus(s, b))
  )
})
