import type { HttpClient } from "@effect/platform"
import { Clock, Data, Duration, Effect, Stream } from "effect"
import { coinTicks, type Fetcher, makePacer, onPublished } from "./Backfill/Fetch.js"
import { formatSeconds, makeProgress, type Progress, type ProgressSink, stderrSink } from "./Backfill/Progress.js"
import { failed, makeTallies, results, type Tallies, view } from "./Backfill/Tally.js"
import { Bus, type BusError, type BusShape } from "./Bus/Bus.js"
import { type Newest, newestPerKey } from "./Bus/TopicScan.js"
import * as Producer from "./Producer.js"
import { type ClientOptions, makeClient } from "./Sources/CoinGecko/Client.js"
import type { Backoff } from "./Sources/CoinGecko/Retry.js"
import { resolveSymbols } from "./Sources/CoinGecko/Symbols.js"
import { coinInfo } from "./Sources/Coins.js"
import { thousands } from "./Text.js"

export { historyTicks } from "./Backfill/History.js"
export type { ProgressSink, ProgressView } from "./Backfill/Progress.js"
export { stderrSink } from "./Backfill/Progress.js"

/**
 * `backfill`: CoinGecko history → the same topic as the live ticks, so the same processor makes candles of it.
 *
 * The processor keeps one event-time watermark per symbol (newest event time − ALLOWED_LATENESS) and rejects
 * anything behind it as late; it dedupes (symbol, source, event time) only inside that window. So history is useful
 * only when it reaches the processor before anything newer of the same symbol. Hence:
 *
 * - each coin's history goes out in event-time order, one coin after the other, through one publisher (per-key order
 *   on the bus), labelled source "coingecko" (it is CoinGecko's data) with its own timestamps as event time;
 * - first the topic is scanned (the newest `scanRecords` records of each partition): for a symbol that already
 *   has ticks there, only points newer than its newest tick are published. That is what makes an interrupted run
 *   resumable (it goes on after its last published point) and keeps a re-run from sending thousands of points the
 *   processor would only reject as late (into the DLQ). A symbol whose newest tick there is from another source
 *   (simulator, replay) is skipped: real history would be mixed into simulated candles.
 * - `republish` skips the scan and sends every point; downstream stays correct (repeats are dropped as late or
 *   duplicate), at the cost of DLQ noise.
 *
 * Limits: history cannot be merged under live data already processed (run backfill before the producer); a live
 * producer publishing the same symbol during a backfill moves the watermark past the rest of that symbol's history.
 */
export interface Options {
  readonly client: ClientOptions
  readonly coins: ReadonlyArray<string>
  readonly days: number
  readonly topic: string
  readonly partitions: number
  /** Skip the topic scan and publish every point. Default false. */
  readonly republish?: boolean
  /** Records read from the end of each partition by the scan. Default 50,000. */
  readonly scanRecords?: number
  /** The scan gives up after this (and the run goes on with what it found). Default 60 seconds. */
  readonly scanTimeout?: Duration.DurationInput
  /** Least time between the starts of two market_chart calls. Default 2 seconds (30 calls a minute). */
  readonly requestInterval?: Duration.DurationInput
  /** Attempts per coin for retryable failures (429, 5xx, timeouts). Default 8. */
  readonly maxAttempts?: number
  /** Default 1 second doubling up to 2 minutes, jittered; a 429's Retry-After is honoured when longer. */
  readonly backoff?: Backoff
  /** Ticks held while the bus is slow or away. Default 10,000. */
  readonly bufferSize?: number
  readonly publishRetry?: Producer.PublishOptions["retry"]
  /** On interruption, how long buffered ticks may still take to reach the bus. Default 5 seconds. */
  readonly drainTimeout?: Duration.DurationInput
  /** Where progress goes. Default: stderr (a bar on a terminal, plain lines otherwise). */
  readonly progress?: ProgressSink
  /** Told of each batch the bus has acknowledged (`service`'s history progress). */
  readonly onPublished?: (ticks: number) => Effect.Effect<void>
}

export interface CoinResult {
  readonly coinId: string
  readonly symbol: string
  /** Valid points in CoinGecko's answer. */
  readonly points: number
  readonly published: number
  /** Points not published because the topic already holds the symbol up to a later time. */
  readonly skipped: number
  /** Points in the answer that gave no valid tick. */
  readonly bad: number
  /** Why nothing (or not everything) came from this coin. */
  readonly problem?: string
}

export interface Summary {
  readonly coins: ReadonlyArray<CoinResult>
  readonly published: number
  readonly elapsed: Duration.Duration
}

export class BackfillError extends Data.TaggedError("BackfillError")<{
  readonly message: string
  readonly summary: Summary
}> {}

const maxRetryWait = Duration.minutes(2)

/** What the topic already holds of `symbols` (nothing looked at with `republish`), said in a progress line. */
const scanned = (options: Options, symbols: ReadonlySet<string>, progress: Progress, tallies: Tallies) =>
  Effect.gen(function* () {
    if (options.republish === true) {
      yield* progress.line(
        "backfill: --republish: the topic is not scanned; every point is published " +
          "(the processor drops repeats as late or duplicate)"
      )
      return new Map<string, Newest>()
    }
    const perPartition = options.scanRecords ?? 50_000
    tallies.stage = "scanning the topic"
    const scan = yield* newestPerKey({
      topic: options.topic,
      keys: symbols,
      perPartition,
      timeout: options.scanTimeout ?? Duration.seconds(60),
      purpose: "backfill-scan"
    })
    const found = [...scan.newest].map(([s, n]) => `${s} up to ${new Date(n.eventTime).toISOString()} (${n.source})`)
    yield* progress.line(
      `backfill: scanned ${options.topic}: ${thousands(scan.records)} records ` +
        `(the newest, at most ${thousands(perPartition)} a partition)` +
        `${scan.complete ? "" : ", timed out: going on with what was found"}; ` +
        (found.length === 0 ? "none of these symbols is there yet" : `already there: ${found.join(", ")}`)
    )
    return scan.newest
  })

/** Symbols, the scan, then every coin's history through one publisher, one coin after the other. */
const backfill = (options: Options, bus: BusShape, progress: Progress, tallies: Tallies) =>
  Effect.gen(function* () {
    yield* bus.ensureTopic(options.topic, options.partitions)
    const client = yield* makeClient(options.client)
    tallies.stage = "resolving symbols"
    const coins = `${options.coins.length} ${options.coins.length === 1 ? "coin" : "coins"}`
    yield* progress.line(
      `backfill: ${coins}, ${options.days} days of history ` +
        `from ${options.client.baseUrl} → ${options.topic} on the ${bus.kind} bus`
    )
    const symbols = yield* resolveSymbols(client, options.coins)
    const symbolOf = (id: string) => symbols.get(id) ?? coinInfo(id).symbol
    const newest = yield* scanned(options, new Set(options.coins.map(symbolOf)), progress, tallies)
    tallies.stage = ""
    const fetcher: Fetcher = {
      client,
      days: options.days,
      backoff: options.backoff ?? { base: Duration.seconds(1), max: maxRetryWait },
      maxAttempts: Math.max(1, options.maxAttempts ?? 8),
      paced: yield* makePacer(options.requestInterval ?? Duration.seconds(2)),
      progress,
      tallies,
      symbolOf,
      newest
    }
    // One coin after the other, oldest point first; fetching the next coin overlaps publishing the previous one.
    const history = Stream.fromIterable(options.coins).pipe(
      Stream.mapEffect((coinId) => coinTicks(fetcher, coinId)),
      Stream.flattenIterables
    )
    yield* Producer.publishStream(history, {
      topic: options.topic,
      bufferSize: options.bufferSize ?? 10_000,
      onPublished: (batch) =>
        Effect.zipRight(onPublished(fetcher, batch), options.onPublished?.(batch.length) ?? Effect.void),
      label: "backfill",
      ...(options.publishRetry === undefined ? {} : { retry: options.publishRetry }),
      ...(options.drainTimeout === undefined ? {} : { drainTimeout: options.drainTimeout })
    })
  })

/** Fetches, turns into ticks and publishes each coin's history; see the module comment for the design. */
export const run = (input: Options): Effect.Effect<Summary, BackfillError | BusError, Bus | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const options: Options = { ...input, coins: [...new Set(input.coins)] }
    const bus = yield* Bus
    const sink = options.progress ?? stderrSink
    const startedAt = yield* Clock.currentTimeMillis
    const tallies = makeTallies()
    const progress = makeProgress(sink, options.coins.length, startedAt, () => view(tallies, options.coins.length))
    const summary = (now: number): Summary => {
      const coins = results(tallies)
      return { coins, published: coins.reduce((n, r) => n + r.published, 0), elapsed: Duration.millis(now - startedAt) }
    }
    const redraw = Effect.forever(Effect.zipRight(progress.tick, Effect.sleep(sink.isTTY ? "200 millis" : "1 second")))
    const interrupted = Effect.gen(function* () {
      yield* progress.finish
      const s = summary(yield* Clock.currentTimeMillis)
      sink.write(
        `backfill: interrupted after ${thousands(s.published)} ticks published; run it again to go on ` +
          `(points the topic already holds are skipped)\n`
      )
    })

    yield* progress
      .aroundLogs(Effect.raceFirst(backfill(options, bus, progress, tallies), Effect.zipRight(redraw, Effect.never)))
      .pipe(
        Effect.onInterrupt(() => interrupted),
        Effect.ensuring(progress.finish)
      )
    const s = summary(yield* Clock.currentTimeMillis)
    const failures = failed(tallies)
    if (failures.length > 0) {
      const why = failures.map((t) => `${t.coinId}: ${t.problem}`).join("; ")
      return yield* new BackfillError({
        message: `backfill: ${failures.length} of ${options.coins.length} coins failed: ${why}`,
        summary: s
      })
    }
    return s
  }).pipe(Effect.annotateLogs({ stage: "backfill" }))

/** One line per coin and a total, for the end of the command. */
export const describe = (summary: Summary): string =>
  [
    ...summary.coins.map(
      (r) =>
        `${r.coinId} (${r.symbol}): ${thousands(r.points)} points, ${thousands(r.published)} published` +
        (r.skipped > 0 ? `, ${thousands(r.skipped)} skipped (already in the topic)` : "") +
        (r.bad > 0 ? `, ${r.bad} bad` : "") +
        (r.problem !== undefined ? ` — ${r.problem}` : "")
    ),
    `backfill: ${thousands(summary.published)} ticks published in ${formatSeconds(Duration.toMillis(summary.elapsed))}`
  ].join("\n")
