import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Chunk, Clock, Duration, Effect, Either, Metric, Option, Ref, Schedule, Stream } from "effect"
import type { SourceConfig } from "../Config.js"
import type { Tick } from "../Domain/Tick.js"
import { logCallVolume } from "./CoinGecko/Budget.js"
import { type Client, type ClientOptions, makeClient } from "./CoinGecko/Client.js"
import { CoinGeckoError, failCounted } from "./CoinGecko/Errors.js"
import { errorsCounter, metrics } from "./CoinGecko/Metrics.js"
import { readSnapshot } from "./CoinGecko/Quotes.js"
import { type Backoff, retrying } from "./CoinGecko/Retry.js"
import { resolveSymbols } from "./CoinGecko/Symbols.js"
import { coinInfo } from "./Coins.js"
import type { SourceError } from "./Source.js"

/** The CoinGecko source: /simple/price polled into ticks. The client, answers and retries are in CoinGecko/. */

export { monthlyCalls } from "./CoinGecko/Budget.js"
export { type Client, type ClientOptions, defaultUserAgent, MarketCoin, makeClient } from "./CoinGecko/Client.js"
export { CoinGeckoError, type Endpoint } from "./CoinGecko/Errors.js"
export { marketChartTicks } from "./CoinGecko/MarketChart.js"
export { errorsCounter, metrics, requestsCounter } from "./CoinGecko/Metrics.js"
export { readSnapshot, SimplePriceQuote, type Snapshot, type SnapshotInput } from "./CoinGecko/Quotes.js"
export { excerpt, interpret, parseRetryAfter } from "./CoinGecko/Response.js"
export { type Backoff, backoffDelay, type RetryPolicy, retryDelay, retrying } from "./CoinGecko/Retry.js"
export { resolveSymbols, toSymbol } from "./CoinGecko/Symbols.js"

export interface Options extends ClientOptions {
  /** CoinGecko ids, all asked for in one /simple/price call. */
  readonly coins: ReadonlyArray<string>
  readonly pollInterval: Duration.DurationInput
  /** After a failure: base × 2^(n-1), capped at max, then jittered to 80–120 %. Default 1 second and 5 minutes. */
  readonly backoff?: Backoff
  /** Calls per month the start-up log compares against on the demo plan. Default 10,000. */
  readonly monthlyBudget?: number
}

const defaultBackoff: Backoff = { base: Duration.seconds(1), max: Duration.minutes(5) }

export const optionsFromConfig = (config: SourceConfig): Options => ({
  baseUrl: config.coingecko.baseUrl,
  plan: config.coingecko.plan,
  apiKey: config.coingecko.apiKey,
  timeout: config.coingecko.timeout,
  coins: config.coins,
  pollInterval: config.pollInterval,
  monthlyBudget: config.coingecko.monthlyBudget
})

/** Counts the coins left out of each answer and logs when that set changes (a new problem, a coin back). */
const problemLog = (coinsTotal: number) => {
  const problems = new Map<string, string>()
  return (current: ReadonlyMap<string, string>) =>
    Effect.gen(function* () {
      for (const problem of current.values()) {
        yield* Metric.increment(errorsCounter(problem === "missing from the answer" ? "missing-coin" : "bad-quote"))
      }
      const fresh = [...current].filter(([id, p]) => problems.get(id) !== p)
      const resolved = [...problems.keys()].filter((id) => !current.has(id))
      if (fresh.length > 0) {
        yield* Effect.logWarning(
          `coingecko: ${current.size} of ${coinsTotal} coins not published from this answer (none invented): ` +
            fresh.map(([id, p]) => `${id}: ${p}`).join("; ")
        )
      } else if (current.size > 0) {
        yield* Effect.logDebug(`coingecko: still left out: ${[...current.keys()].join(", ")}`)
      }
      if (resolved.length > 0) yield* Effect.logInfo(`coingecko: back in the answer: ${resolved.join(", ")}`)
      problems.clear()
      for (const [id, p] of current) problems.set(id, p)
    })
}

/** One /simple/price call read into a Snapshot; an answer that is not one is a counted bad-response. */
const poll = (
  client: Client,
  coins: ReadonlyArray<string>,
  symbolOf: (coinId: string) => string,
  lastPublished: ReadonlyMap<string, number>
) =>
  Effect.flatMap(client.simplePrice(coins), (body) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Either.match(readSnapshot(body, { coins, symbolOf, now, lastPublished }), {
        onRight: Effect.succeed,
        onLeft: (what) =>
          failCounted(
            new CoinGeckoError({ reason: "bad-response", endpoint: "simple/price", message: `/simple/price: ${what}` })
          )
      })
    )
  )

/**
 * Polls /simple/price every `pollInterval` and emits one tick per coin whose last_updated_at advanced
 * (event time = last_updated_at × 1000, ingest time = now, source "coingecko").
 * A failed poll is logged, counted and retried: after Retry-After when a 429 has one, else with exponential backoff
 * and jitter; the regular interval resumes after the next good answer. The stream fails only when retrying cannot help
 * (reasons "unauthorized" and "rejected").
 */
export const streamWith = (options: Options): Stream.Stream<Tick, SourceError, HttpClient.HttpClient> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const client = yield* makeClient(options)
      yield* logCallVolume(options)
      if (options.plan === "pro" && Option.isNone(options.apiKey)) {
        yield* Effect.logWarning(
          "coingecko: COINGECKO_PLAN=pro without COINGECKO_API_KEY: the pro root refuses keyless calls"
        )
      }
      const symbols = yield* resolveSymbols(client, options.coins)
      const symbolOf = (id: string) => symbols.get(id) ?? coinInfo(id).symbol
      const lastPublished = new Map<string, number>()
      const report = problemLog(options.coins.length)

      const step = Effect.gen(function* () {
        const failures = yield* Ref.make(0)
        const snapshot = yield* retrying(poll(client, options.coins, symbolOf, lastPublished), {
          backoff: options.backoff ?? defaultBackoff,
          onRetry: (error, failure, delay) =>
            Effect.zipRight(
              Ref.set(failures, failure),
              Effect.logWarning(
                `coingecko: ${error.message}; retrying in ${Duration.format(delay)} (failure ${failure} in a row)`
              )
            )
        }).pipe(
          Effect.tapError((error) => Effect.logError(`coingecko: ${error.message}; giving up (retrying cannot help)`)),
          Effect.mapError((error) => error.toSourceError())
        )
        const failed = yield* Ref.get(failures)
        if (failed > 0)
          yield* Effect.logInfo(`coingecko: answering again after ${failed} failed ${failed === 1 ? "call" : "calls"}`)
        for (const tick of snapshot.ticks) lastPublished.set(tick.coinId, tick.eventTime)
        yield* report(snapshot.problems)
        if (snapshot.unchanged.length > 0) {
          yield* Metric.incrementBy(metrics.unchanged, snapshot.unchanged.length)
          yield* Effect.logDebug(`coingecko: unchanged since the last answer: ${snapshot.unchanged.join(", ")}`)
        }
        yield* Metric.incrementBy(metrics.ticks, snapshot.ticks.length)
        return Chunk.fromIterable(snapshot.ticks)
      })

      return Stream.repeatEffectWithSchedule(step, Schedule.spaced(options.pollInterval)).pipe(Stream.flattenChunks)
    })
  )

/** The CoinGecko source on its own HTTP client (undici, scoped to the stream): no requirements. */
export const stream = (options: Options): Stream.Stream<Tick, SourceError> =>
  streamWith(options).pipe(Stream.provideLayer(NodeHttpClient.layerUndici))

/**
 * One /ping with a short timeout, for SOURCE=auto. Succeeds when CoinGecko answers (a 429 counts: it is there,
 * only busy); fails with what went wrong otherwise.
 */
export const probe = (options: ClientOptions): Effect.Effect<void, CoinGeckoError> =>
  Effect.flatMap(makeClient(options), (client) => client.ping).pipe(
    Effect.catchIf(
      (e) => e.reason === "rate-limited",
      () => Effect.void
    ),
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.withSpan("CoinGecko.probe")
  )
