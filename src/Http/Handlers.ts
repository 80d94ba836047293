import { createHash, timingSafeEqual } from "node:crypto"
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Layer, Metric, Option, Redacted, Schedule, type Schema } from "effect"
import { Bus } from "../Bus/Bus.js"
import { LatestCache, type LatestCacheShape } from "../Cache/LatestCache.js"
import { AppConfig } from "../Config.js"
import type { Market } from "../Domain/Market.js"
import { marketOf, type Tick } from "../Domain/Tick.js"
import * as HistoryProgress from "../Producer/HistoryProgress.js"
import { type CandleRow, Store } from "../Store/Store.js"
import {
  AdminAuth,
  Api,
  CandleSeries,
  type CandlesParams,
  type CandlesPath,
  type LatestParams,
  LatestPrices,
  NotFound,
  NotReady,
  Unauthorized,
  Unavailable
} from "./Api.js"
import { databaseDown, decodeErrors, fromBeforeTo } from "./Errors.js"
import { type FillRange, fillGaps, fillRange, needsPrevious } from "./GapFill.js"
import * as Markets from "./Markets.js"
import { filterKeys, type MarketRef, MarketResolver, passes, symbolOf } from "./Markets.js"
import { MarketsLive } from "./MarketsHandlers.js"
import { unrouted } from "./Methods.js"
import { venueDependencies } from "./Venues.js"

const cacheDown = () => new Unavailable({ error: "the latest-price cache (Redis) is unavailable; retry shortly" })

/**
 * The value as the JSON body, without running the response schema's encoder over it. For the hot read endpoints only:
 * their values come out of our own decoders (Redis, Postgres), and `A extends I` makes the compiler check that the
 * schema's encoded form is the value itself (no Date or other transformation), so the encoder would only re-validate
 * what was just validated. It was a fifth of the API's CPU under load (docs/BENCHMARKS.md).
 */
const asJson = <A extends I, I>(_schema: Schema.Schema<A, I>, value: A) => HttpServerResponse.unsafeJson(value)

const probe = (kind: string, check: Effect.Effect<unknown, { readonly message: string }>) =>
  check.pipe(
    Effect.timeoutFail({ duration: "1 second", onTimeout: () => ({ message: "no answer within 1 s" }) }),
    Effect.match({
      onSuccess: () => ({ kind, state: "up" as const }),
      onFailure: (e) => ({ kind, state: "down" as const, error: e.message })
    })
  )

const dependencyUp = Metric.gauge("dependency_up", {
  description: "1 while the dependency answers its probe, 0 otherwise (tag dependency)"
})

/** Probes every dependency this process has (the bus only where it runs one), and records each state as a gauge. */
export const readiness = (topic: string) =>
  Effect.gen(function* () {
    const cache = yield* LatestCache
    const store = yield* Store
    const bus = yield* Effect.serviceOption(Bus)
    return Effect.gen(function* () {
      const [database, latest, log] = yield* Effect.all(
        [
          probe("postgres", store.ping),
          probe(
            cache.kind,
            Effect.flatMap(cache.isUp, (up) => (up ? Effect.void : Effect.fail({ message: "not connected" })))
          ),
          Option.match(bus, {
            onNone: () => Effect.succeed(undefined),
            onSome: (b) => probe(b.kind, b.endOffsets(topic))
          })
        ],
        { concurrency: "unbounded" }
      )
      const services = { database, cache: latest, ...(log === undefined ? {} : { bus: log }) }
      // Venue connections have their own gauge (venue_connection_up).
      for (const [name, d] of Object.entries(services)) {
        yield* Metric.set(Metric.tagged(dependencyUp, "dependency", name), d.state === "up" ? 1 : 0)
      }
      return { ...services, ...(yield* venueDependencies) }
    })
  })

export const system = (topic: string) =>
  HttpApiBuilder.group(Api, "system", (handlers) =>
    Effect.gen(function* () {
      const check = yield* readiness(topic)
      // /metrics shows each dependency's state even when nobody asks /ready.
      yield* check.pipe(Effect.repeat(Schedule.spaced("10 seconds")), Effect.forkScoped)
      return handlers
        .handle("health", () => Effect.succeed({ status: "ok" as const }))
        .handle("ready", () =>
          Effect.gen(function* () {
            const dependencies = yield* check
            if (dependencies.database.state === "down")
              return yield* new NotReady({ status: "unavailable", dependencies })
            const status = Object.values(dependencies).every((d) => d.state === "up")
              ? ("ready" as const)
              : ("degraded" as const)
            const history = yield* HistoryProgress.get
            return history === undefined ? { status, dependencies } : { status, dependencies, history }
          })
        )
    })
  )

/** The latest ticks a `symbols` filter asks for (all without one). */
const filtered = (ticks: ReadonlyArray<Tick>, refs: ReadonlyArray<MarketRef> | undefined) => {
  if (refs === undefined) return ticks
  const keys = filterKeys(refs)
  return ticks.filter((t) => passes(keys, marketOf(t), t.symbol))
}

/** /api/latest's answer (the hot routes serve it too: HotRoutes.ts). */
export const latestAnswer = (cache: LatestCacheShape) => (q: typeof LatestParams.Type) =>
  Effect.flatMap(Effect.mapError(cache.getAll, cacheDown), (prices) =>
    Effect.map(Clock.currentTimeMillis, (asOf): typeof LatestPrices.Type => ({
      prices: filtered(prices, q.symbols),
      asOf
    }))
  )

export const PricesLive = HttpApiBuilder.group(Api, "prices", (handlers) =>
  Effect.gen(function* () {
    const cache = yield* LatestCache
    const store = yield* Store
    const resolver = yield* MarketResolver
    const latest = latestAnswer(cache)
    return handlers
      .handle("latest", ({ urlParams }) => Effect.map(latest(urlParams), (value) => asJson(LatestPrices, value)))
      .handle("latestOne", ({ path }) =>
        resolver.resolve(path.symbol).pipe(
          Effect.flatMap((market) =>
            cache.get(market).pipe(
              Effect.mapError(cacheDown),
              Effect.flatMap(
                Option.match({
                  onNone: () => Effect.fail(new NotFound({ error: `no recent price for ${market}` })),
                  onSome: Effect.succeed
                })
              )
            )
          )
        )
      )
      .handle("symbols", () =>
        Effect.gen(function* () {
          const known = yield* store.symbols.pipe(Effect.mapError(databaseDown))
          // The source comes from the cache when it is up; the list itself is the durable one.
          const latest = yield* cache.getAll.pipe(Effect.orElseSucceed(() => []))
          const sources = new Map<string, Tick["source"]>()
          // A symbol on several markets: the source of its default market's tick, else of the first.
          for (const t of latest) if (!sources.has(t.symbol)) sources.set(t.symbol, t.source)
          for (const t of latest) {
            if (marketOf(t) === (yield* resolver.resolve({ _tag: "Bare", symbol: t.symbol })))
              sources.set(t.symbol, t.source)
          }
          const all = new Set([...known, ...sources.keys()])
          return { symbols: [...all].sort().map((symbol) => ({ symbol, source: sources.get(symbol) ?? null })) }
        })
      )
  })
)

/**
 * With `final=true` a filled answer stops at the newest final candle: buckets after it may still get a candle, those
 * before it cannot (the watermark is past them).
 */
const finalOnly = (final: boolean, rows: ReadonlyArray<CandleRow>, range: FillRange | undefined) => {
  if (!final || range === undefined) return range
  const newest = rows.at(-1)?.candle.bucketStart
  return newest === undefined || newest < range.first ? undefined : { ...range, last: Math.min(range.last, newest) }
}

/** /api/candles/:symbol's answer (the hot routes serve it too: HotRoutes.ts). */
export const candlesAnswer =
  (store: Store["Type"], resolver: MarketResolver["Type"]) =>
  (path: typeof CandlesPath.Type, q: typeof CandlesParams.Type) =>
    Effect.gen(function* () {
      yield* fromBeforeTo(q)
      const market = yield* resolver.resolve(path.symbol)
      const query = { market, interval: q.interval, from: q.from, to: q.to, limit: q.limit, final: q.final }
      let rows = yield* store.candles(query).pipe(Effect.mapError(databaseDown))
      if (q.fill) {
        const range = finalOnly(q.final, rows, fillRange(q.interval, q, rows, yield* Clock.currentTimeMillis))
        if (range !== undefined) {
          // The close carried into leading empty buckets is the newest candle before the range.
          const previous = needsPrevious(rows, range)
            ? (yield* store
                .candles({ ...query, from: undefined, to: range.first, limit: 1 })
                .pipe(Effect.mapError(databaseDown))).at(-1)
            : undefined
          rows = fillGaps(q.interval, rows, range, previous)
        }
      }
      const series: typeof CandleSeries.Type = {
        symbol: symbolOf(market),
        market,
        interval: q.interval,
        candles: rows.map((r) => r.candle),
        ...(q.indicators ? { indicators: rows.map((r) => r.indicators) } : {})
      }
      return series
    })

export const HistoryLive = HttpApiBuilder.group(Api, "history", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const resolver = yield* MarketResolver
    const candles = candlesAnswer(store, resolver)
    return handlers
      .handle("candles", ({ path, urlParams }) =>
        Effect.map(candles(path, urlParams), (value) => asJson(CandleSeries, value))
      )
      .handle("indicators", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const market = yield* resolver.resolve(path.symbol)
          const rows = yield* store
            .candles({ market, interval: urlParams.interval, limit: 1 })
            .pipe(Effect.mapError(databaseDown))
          const last = rows.at(-1)
          if (last === undefined)
            return yield* new NotFound({ error: `no candles for ${market} at ${urlParams.interval}` })
          return {
            symbol: symbolOf(market),
            market,
            interval: urlParams.interval,
            bucketStart: last.candle.bucketStart,
            values: last.indicators
          }
        })
      )
  })
)

export const AdminLive = HttpApiBuilder.group(Api, "admin", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    return handlers
      .handle("checkpoints", () =>
        store.checkpoints.pipe(
          Effect.map((checkpoints) => ({ checkpoints })),
          Effect.mapError(databaseDown)
        )
      )
      .handle("deadLetters", ({ urlParams }) =>
        store.deadLetters(urlParams).pipe(
          Effect.map((deadLetters) => ({ deadLetters })),
          Effect.mapError(databaseDown)
        )
      )
  })
)

const digest = (value: string) => createHash("sha256").update(value).digest()

/** Bearer ADMIN_API_KEY, compared in constant time (as digests, so the length leaks nothing either). */
export const adminAuth = (key: Option.Option<Redacted.Redacted>) => {
  const expected = Option.map(key, (k) => digest(Redacted.value(k)))
  return Layer.succeed(AdminAuth, {
    bearer: (token) =>
      Option.match(expected, {
        onNone: () => Effect.fail(new NotFound({ error: "admin endpoints are off: set ADMIN_API_KEY to enable them" })),
        onSome: (want) =>
          timingSafeEqual(digest(Redacted.value(token)), want)
            ? Effect.void
            : Effect.fail(new Unauthorized({ error: "missing or wrong bearer token" }))
      })
  })
}

/**
 * Every group's handlers: `topic` is the bus topic /ready probes, `adminApiKey` turns the admin endpoints on; `markets`
 * the resolver's layer, when the server shares it with the hot routes (HotRoutes.ts).
 */
export const layer = (
  config: {
    readonly topic: string
    readonly adminApiKey: Option.Option<Redacted.Redacted>
    readonly defaultMarkets: ReadonlyArray<Market>
  },
  markets = Markets.layer(config.defaultMarkets)
) =>
  Layer.mergeAll(system(config.topic), PricesLive, HistoryLive, MarketsLive, AdminLive, decodeErrors, unrouted).pipe(
    Layer.provide(adminAuth(config.adminApiKey)),
    Layer.provide(markets)
  )

/** The handlers as the environment configures them (for tests that build the API without the server). */
export const HandlersLive = Layer.unwrapEffect(
  Effect.map(Effect.orDie(AppConfig), (config) =>
    layer({
      topic: config.topic.topic,
      adminApiKey: config.http.adminApiKey,
      defaultMarkets: config.http.defaultMarkets
    })
  )
)
