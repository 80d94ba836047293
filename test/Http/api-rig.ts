import { HttpApiBuilder, HttpServer } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { Clock, Context, Effect, Layer, ManagedRuntime, Option, Stream } from "effect"
import { CacheUnavailable, LatestCache } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import type { Market } from "../../src/Domain/Market.js"
import { Api } from "../../src/Http/Api.js"
import * as Handlers from "../../src/Http/Handlers.js"
import * as SqlLive from "../../src/Sql/Client.js"
import { MigrationsLive } from "../../src/Sql/Migrations.js"
import * as Store from "../../src/Store/Store.js"

// The API in process, on the embedded Postgres (migrations applied) and the memory cache, under a clock the test sets:
// requests go through HttpApiBuilder.toWebHandler, rows go in with plain SQL.

/** A clock whose time the test sets (sleeping still takes real time: timeouts and schedules keep working). */
export const settableClock = (start: number) => {
  const live = Clock.make()
  let now = start
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (d) => live.sleep(d)
  }
  return { clock, set: (t: number) => void (now = t), advance: (ms: number) => void (now += ms), now: () => now }
}

type Deps = SqlClient.SqlClient | Store.Store | LatestCache

export const startRig = async (start: number) => {
  const time = settableClock(start)
  const deps = Layer.mergeAll(
    Store.layer.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(SqlLive.embedded)),
    MemoryCache.layer("45 seconds")
  ).pipe(Layer.provide(Layer.setClock(time.clock)))
  const runtime = ManagedRuntime.make(deps)
  const context = await runtime.runPromise(Effect.context<Deps>())
  const disposers: Array<() => Promise<void>> = []

  /** A web handler for the API; `handlers` picks the handler layer (default: no DEFAULT_MARKETS), `cache` overrides. */
  const api = (
    options: {
      readonly defaultMarkets?: ReadonlyArray<Market>
      readonly handlers?: Layer.Layer<Layer.Layer.Success<ReturnType<typeof Handlers.layer>>, unknown, Deps>
      /** Services beside or over the rig's own (a cache that is down, venue connections). */
      readonly services?: Context.Context<never>
    } = {}
  ) => {
    const handlers =
      options.handlers ??
      Handlers.layer({
        topic: "crypto-prices",
        adminApiKey: Option.none(),
        defaultMarkets: options.defaultMarkets ?? []
      })
    const base = options.services === undefined ? context : Context.merge(context, options.services)
    const { handler, dispose } = HttpApiBuilder.toWebHandler(
      Layer.mergeAll(
        HttpApiBuilder.api(Api).pipe(Layer.provide(handlers)),
        HttpServer.layerContext,
        Layer.setClock(time.clock)
      ).pipe(Layer.provide(Layer.succeedContext(base)))
    )
    disposers.push(dispose)
    return async (path: string) => {
      const res = await handler(new Request(`http://api.test${path}`))
      const text = await res.text()
      return { status: res.status, body: (text === "" ? null : JSON.parse(text)) as Record<string, unknown> }
    }
  }

  const run = <A, E>(effect: Effect.Effect<A, E, Deps>) => runtime.runPromise(effect)

  return {
    time,
    api,
    run,
    close: async () => {
      for (const d of disposers) await d()
      await runtime.dispose()
    }
  }
}
export type Rig = Awaited<ReturnType<typeof startRig>>

/** A cache that is down: every read fails as Redis away would. */
export const downCache: Context.Context<never> = Context.make(
  LatestCache,
  LatestCache.of({
    kind: "redis",
    write: () => Effect.fail(new CacheUnavailable({ message: "Redis is reconnecting" })),
    getAll: Effect.fail(new CacheUnavailable({ message: "Redis is reconnecting" })),
    get: () => Effect.fail(new CacheUnavailable({ message: "Redis is reconnecting" })),
    updates: () => Stream.fail(new CacheUnavailable({ message: "Redis is reconnecting" })),
    newest: Effect.fail(new CacheUnavailable({ message: "Redis is reconnecting" })),
    isUp: Effect.succeed(false)
  })
)
