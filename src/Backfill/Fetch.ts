import { Clock, Duration, Effect, Either, Ref } from "effect"
import type { Newest } from "../Bus/TopicScan.js"
import type { Tick } from "../Domain/Tick.js"
import type { Client } from "../Sources/CoinGecko/Client.js"
import type { CoinGeckoError } from "../Sources/CoinGecko/Errors.js"
import { type Backoff, retrying } from "../Sources/CoinGecko/Retry.js"
import { thousands } from "../Text.js"
import { historyTicks, plan } from "./History.js"
import type { Progress } from "./Progress.js"
import { start, type Tallies, type Tally } from "./Tally.js"

/** Each coin's history fetched (paced, retried), planned against the topic, and counted as it is published. */

export interface Fetcher {
  readonly client: Client
  readonly days: number
  readonly backoff: Backoff
  readonly maxAttempts: number
  /** Runs a call no sooner than the request interval after the start of the one before. */
  readonly paced: <A, E>(call: Effect.Effect<A, E>) => Effect.Effect<A, E>
  readonly progress: Progress
  readonly tallies: Tallies
  readonly symbolOf: (coinId: string) => string
  /** What the topic already holds, per symbol. */
  readonly newest: ReadonlyMap<string, Newest>
}

/** `paced` for calls at least `interval` apart (start to start). */
export const makePacer = (interval: Duration.DurationInput) =>
  Effect.map(Ref.make(Number.NEGATIVE_INFINITY), (lastCall) => {
    const gap = Duration.toMillis(interval)
    return <A, E>(call: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.gen(function* () {
        const wait = (yield* Ref.get(lastCall)) + gap - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        yield* Ref.set(lastCall, yield* Clock.currentTimeMillis)
        return yield* call
      })
  })

/** market_chart with retries: after a 429's Retry-After (never less than the backoff), else exponential backoff. */
const fetchChart = Effect.fn("Backfill.fetchChart")(function* (f: Fetcher, tally: Tally) {
  const coinId = tally.coinId
  let attempt = 0
  const call = Effect.suspend(() => {
    attempt += 1
    tally.phase = attempt === 1 ? "fetching" : `fetching (attempt ${attempt})`
    return f.paced(f.client.marketChart(coinId, f.days))
  })
  return yield* retrying(call, {
    backoff: f.backoff,
    maxAttempts: f.maxAttempts,
    onRetry: (error: CoinGeckoError, n, delay) =>
      Effect.suspend(() => {
        tally.phase = `waiting ${Duration.format(delay)} (${error.reason})`
        return f.progress.line(
          `backfill: ${coinId}: ${error.message}; retrying in ${Duration.format(delay)} (attempt ${n} of ${f.maxAttempts})`
        )
      })
  })
})

/** Ends a coin that publishes nothing. */
const finish = (f: Fetcher, tally: Tally, problem: string, failed = false) =>
  Effect.suspend(() => {
    tally.problem = problem
    tally.failed = failed
    tally.finished = true
    return f.progress.line(`backfill: ${tally.coinId} (${tally.symbol}): ${problem}`)
  })

const describeBad = (coinId: string, bad: ReadonlyArray<readonly [string, string]>) =>
  `backfill: ${coinId}: ${bad.length} points give no valid tick, skipped: ${bad
    .slice(0, 5)
    .map(([w, why]) => `${w}: ${why}`)
    .join("; ")}`

/** One coin's history, as the ticks to publish (none when it failed or the topic holds it all). */
export const coinTicks = (f: Fetcher, coinId: string): Effect.Effect<ReadonlyArray<Tick>> =>
  Effect.gen(function* () {
    const symbol = f.symbolOf(coinId)
    const tally = start(f.tallies, coinId, symbol)
    const chart = yield* Effect.either(fetchChart(f, tally))
    if (Either.isLeft(chart)) return yield* Effect.as(finish(f, tally, `not fetched: ${chart.left.message}`, true), [])
    const history = historyTicks(chart.right, coinId, symbol, yield* Clock.currentTimeMillis)
    if (Either.isLeft(history)) return yield* Effect.as(finish(f, tally, `unusable answer: ${history.left}`, true), [])
    const { bad, ticks } = history.right
    tally.points = ticks.length
    tally.bad = bad.length
    if (bad.length > 0) yield* Effect.logWarning(describeBad(coinId, bad))
    const next = plan(ticks, symbol, f.newest.get(symbol))
    tally.skipped = next.skipped
    if (next._tag === "Nothing") return yield* Effect.as(finish(f, tally, next.problem), [])
    const { fresh } = next
    tally.toPublish = fresh.length
    tally.phase = `publishing 0/${thousands(fresh.length)}`
    const first = new Date(fresh[0]!.eventTime).toISOString()
    const last = new Date(fresh[fresh.length - 1]!.eventTime).toISOString()
    yield* f.progress.line(
      `backfill: ${coinId} (${symbol}): ${thousands(ticks.length)} points, ` +
        `${thousands(fresh.length)} to publish (${first} → ${last})` +
        (tally.skipped > 0 ? `, ${thousands(tally.skipped)} already in the topic` : "") +
        (bad.length > 0 ? `, ${bad.length} bad` : "")
    )
    return fresh
  })

/** Counts a published batch against its coins; a coin whose last tick went out is finished. */
export const onPublished = (f: Fetcher, batch: ReadonlyArray<Tick>) =>
  Effect.gen(function* () {
    for (const tick of batch) {
      const tally = f.tallies.byCoin.get(tick.coinId)
      if (tally === undefined) continue
      tally.published += 1
      tally.phase = `publishing ${thousands(tally.published)}/${thousands(tally.toPublish)}`
      if (tally.published === tally.toPublish) {
        tally.finished = true
        yield* f.progress.line(
          `backfill: ${tally.coinId} (${tally.symbol}): ${thousands(tally.published)} ticks published`
        )
      }
    }
  })
