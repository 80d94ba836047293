import type { HttpClient } from "@effect/platform"
import { Clock, Data, Duration, Effect, Either, FiberRef, HashSet, Logger, Random, Schema, Stream } from "effect"
import { Bus, type BusError } from "./Bus/Bus.js"
import { type Source, type Tick, TickJson } from "./Domain/Tick.js"
import * as Producer from "./Producer.js"
import * as CoinGecko from "./Sources/CoinGecko.js"
import { coinInfo } from "./Sources/Coins.js"

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
  readonly client: CoinGecko.ClientOptions
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
  readonly backoff?: { readonly base: Duration.DurationInput; readonly max: Duration.DurationInput }
  /** Ticks held while the bus is slow or away. Default 10,000. */
  readonly bufferSize?: number
  readonly publishRetry?: Producer.PublishOptions["retry"]
  /** On interruption, how long buffered ticks may still take to reach the bus. Default 5 seconds. */
  readonly drainTimeout?: Duration.DurationInput
  /** Where progress goes. Default: stderr (a bar on a terminal, plain lines otherwise). */
  readonly progress?: ProgressSink
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

const decodeTick = Schema.decodeEither(TickJson)

// == history → ticks

/**
 * A market_chart answer → ticks for `symbol`, oldest first, one per event time: source "coingecko", event time the
 * point's own time, price, market cap and 24 h volume (CoinGecko's rolling 24 h volume: `volume24h`, not a trade
 * size) where given, ingest time `now`. Points that give no valid tick are counted in `bad`.
 */
export const historyTicks = (
  json: unknown,
  coinId: string,
  symbol: string,
  now: number
): Either.Either<
  { readonly ticks: ReadonlyArray<Tick>; readonly bad: ReadonlyArray<readonly [string, string]> },
  string
> =>
  Either.map(
    CoinGecko.marketChartTicks(json, { coinId, symbol, source: "coingecko", ingestTime: now }),
    ({ bad, ticks }) => {
      const byTime = new Map<number, Tick>()
      for (const t of ticks) byTime.set(t.eventTime, t)
      return { bad, ticks: [...byTime.values()].sort((a, b) => a.eventTime - b.eventTime) }
    }
  )

// == what the topic already holds

export interface Newest {
  readonly eventTime: number
  readonly source: Source
}

/**
 * The newest tick of each of `symbols` among the last `perPartition` records of each partition of `topic`.
 * Reads with a throw-away consumer group that commits nothing. On timeout it returns what it found so far
 * (`complete: false`).
 */
export const scanTopic = (
  topic: string,
  symbols: ReadonlySet<string>,
  perPartition: number,
  timeout: Duration.DurationInput
): Effect.Effect<
  { readonly newest: ReadonlyMap<string, Newest>; readonly records: number; readonly complete: boolean },
  BusError,
  Bus
> =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const ends = yield* bus.endOffsets(topic)
    const newest = new Map<string, Newest>()
    const next = new Map<number, number>()
    let records = 0
    // Done once every partition has been read up to the end it had when the scan started.
    const pending = () => [...ends].some(([p, end]) => (next.get(p) ?? starts.get(p) ?? 0) < end)
    const starts = new Map([...ends].map(([p, end]) => [p, Math.max(0, end - perPartition)] as const))
    if (!pending()) return { newest, records, complete: true }
    const groupId = `${topic}.backfill-scan-${Date.now()}-${process.pid}`
    const scan = bus
      .consume({
        topic,
        groupId,
        onAssign: (parts) => Effect.succeed(new Map(parts.map((p) => [p, starts.get(p) ?? 0] as const)))
      })
      .pipe(
        Stream.runForEachWhile((event) =>
          Effect.sync(() => {
            if (event._tag !== "Records") return pending()
            for (const record of event.records) {
              records += 1
              next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1))
              if (record.key === null || !symbols.has(record.key)) continue
              const tick = decodeTick(record.value)
              if (Either.isLeft(tick) || tick.right.symbol !== record.key) continue
              const seen = newest.get(record.key)
              if (seen === undefined || tick.right.eventTime > seen.eventTime) {
                newest.set(record.key, { eventTime: tick.right.eventTime, source: tick.right.source })
              }
            }
            return pending()
          })
        )
      )
    const finished = yield* Effect.timeout(scan, timeout).pipe(
      Effect.as(true),
      Effect.catchTag("TimeoutException", () => Effect.succeed(false))
    )
    return { newest, records, complete: finished }
  })

// == progress

/** Where progress is written: a redrawn bar when `isTTY`, else one plain line per event. */
export interface ProgressSink {
  readonly isTTY: boolean
  readonly write: (text: string) => void
  /** Terminal width, for the bar. */
  readonly columns?: () => number
}

export const stderrSink: ProgressSink = {
  isTTY: process.stderr.isTTY === true,
  write: (text) => void process.stderr.write(text),
  columns: () => process.stderr.columns ?? 0
}

const thousands = (n: number) => n.toLocaleString("en-US")

const formatSeconds = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/** What the progress display shows, computed from the run's tallies on every redraw. */
export interface ProgressView {
  readonly coinsDone: number
  /** 0 to 1: each coin counts half once fetched and the rest as its ticks are published. */
  readonly fraction: number
  readonly toPublish: number
  readonly published: number
  /** What is going on now, e.g. "bitcoin: publishing 800/1,827 · ethereum: fetching". */
  readonly activity: string
}

const makeProgress = (sink: ProgressSink, coinsTotal: number, startedAt: number, view: () => ProgressView) => {
  let barShown = false
  let lastPlain = 0

  const eta = (v: ProgressView, now: number) => {
    const elapsed = now - startedAt
    return v.fraction <= 0 || (v.coinsDone === 0 && v.fraction < 0.25)
      ? "ETA --"
      : `ETA ${formatSeconds((elapsed / v.fraction) * (1 - v.fraction))}`
  }
  const counts = (v: ProgressView, now: number) =>
    `${v.coinsDone}/${coinsTotal} coins · ${thousands(v.published)}/${thousands(v.toPublish)} ticks published · ` +
    `${formatSeconds(now - startedAt)} · ${eta(v, now)}`

  const bar = (now: number) => {
    const v = view()
    const width = 24
    const filled = Math.round(Math.min(1, v.fraction) * width)
    const text = `backfill [${"#".repeat(filled)}${".".repeat(width - filled)}] ${counts(v, now)}${v.activity.length > 0 ? ` · ${v.activity}` : ""}`
    const columns = sink.columns?.() ?? 0
    const max = Math.max(40, (columns > 0 ? columns : 100) - 1)
    return text.length > max ? `${text.slice(0, max - 1)}…` : text
  }

  const clear = () => {
    if (barShown) sink.write("\r\x1b[2K")
    barShown = false
  }
  const draw = (now: number) => {
    sink.write(`\r\x1b[2K${bar(now)}`)
    barShown = true
  }

  return {
    /** A line that stays (above the bar on a terminal). */
    line: (text: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (sink.isTTY) {
          clear()
          sink.write(`${text}\n`)
          draw(now)
        } else {
          sink.write(`${text} [${counts(view(), now)}]\n`)
          lastPlain = now
        }
      }),
    /** The bar redrawn (terminal), or a plain line at most every 10 s (otherwise). */
    tick: Effect.map(Clock.currentTimeMillis, (now) => {
      if (sink.isTTY) draw(now)
      else if (now - lastPlain >= 10_000) {
        const v = view()
        sink.write(`backfill: ${v.activity.length > 0 ? v.activity : "working"} [${counts(v, now)}]\n`)
        lastPlain = now
      }
    }),
    /** Runs `effect` with every logger clearing the bar before its line and drawing it again after. */
    aroundLogs: <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      sink.isTTY
        ? Effect.locallyWith(effect, FiberRef.currentLoggers, (loggers) =>
            HashSet.map(loggers, (logger) =>
              Logger.make((options) => {
                const shown = barShown
                clear()
                logger.log(options)
                if (shown) draw(Date.now())
              })
            )
          )
        : effect,
    finish: Effect.sync(() => clear())
  }
}

// == the run

const maxRetryWait = Duration.minutes(2)

/** What happened to one coin so far. */
interface Tally {
  readonly coinId: string
  readonly symbol: string
  points: number
  toPublish: number
  published: number
  skipped: number
  bad: number
  problem?: string
  /** Not fetched, or the answer was unusable: the run fails at the end. */
  failed: boolean
  /** Nothing more will happen to it. */
  finished: boolean
  /** For the progress display: fetching, waiting, publishing n/m. */
  phase: string
}

const toResult = (t: Tally): CoinResult => ({
  coinId: t.coinId,
  symbol: t.symbol,
  points: t.points,
  published: t.published,
  skipped: t.skipped,
  bad: t.bad,
  ...(t.problem === undefined ? {} : { problem: t.problem })
})

/** Fetches, turns into ticks and publishes each coin's history; see the module comment for the design. */
export const run = (input: Options): Effect.Effect<Summary, BackfillError | BusError, Bus | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const options: Options = { ...input, coins: [...new Set(input.coins)] }
    const bus = yield* Bus
    const sink = options.progress ?? stderrSink
    const startedAt = yield* Clock.currentTimeMillis
    const tallies = new Map<string, Tally>()
    let phase = "starting"
    const view = (): ProgressView => {
      const all = [...tallies.values()]
      const open = all.filter((t) => !t.finished)
      return {
        coinsDone: all.length - open.length,
        fraction:
          all.reduce(
            (f, t) => f + (t.finished ? 1 : t.toPublish > 0 ? 0.5 + 0.5 * (t.published / t.toPublish) : 0),
            0
          ) / Math.max(1, options.coins.length),
        toPublish: all.reduce((n, t) => n + t.toPublish, 0),
        published: all.reduce((n, t) => n + t.published, 0),
        activity: open.length > 0 ? open.map((t) => `${t.coinId}: ${t.phase}`).join(" · ") : phase
      }
    }
    const progress = makeProgress(sink, options.coins.length, startedAt, view)

    const body = Effect.gen(function* () {
      yield* bus.ensureTopic(options.topic, options.partitions)
      const client = yield* CoinGecko.makeClient(options.client)
      phase = "resolving symbols"
      yield* progress.line(
        `backfill: ${options.coins.length} ${options.coins.length === 1 ? "coin" : "coins"}, ${options.days} days of history ` +
          `from ${options.client.baseUrl} → ${options.topic} on the ${bus.kind} bus`
      )
      const symbols = yield* CoinGecko.resolveSymbols(client, options.coins)
      const symbolOf = (id: string) => symbols.get(id) ?? coinInfo(id).symbol

      let newest: ReadonlyMap<string, Newest> = new Map()
      if (options.republish === true) {
        yield* progress.line(
          "backfill: --republish: the topic is not scanned; every point is published (the processor drops repeats as late or duplicate)"
        )
      } else {
        const perPartition = options.scanRecords ?? 50_000
        phase = "scanning the topic"
        const scan = yield* scanTopic(
          options.topic,
          new Set(options.coins.map(symbolOf)),
          perPartition,
          options.scanTimeout ?? Duration.seconds(60)
        )
        newest = scan.newest
        const found = [...scan.newest].map(
          ([s, n]) => `${s} up to ${new Date(n.eventTime).toISOString()} (${n.source})`
        )
        yield* progress.line(
          `backfill: scanned ${options.topic}: ${thousands(scan.records)} records (the newest, at most ${thousands(perPartition)} a partition)` +
            `${scan.complete ? "" : ", timed out: going on with what was found"}; ` +
            (found.length === 0 ? "none of these symbols is there yet" : `already there: ${found.join(", ")}`)
        )
      }

      phase = ""
      const interval = Duration.toMillis(options.requestInterval ?? Duration.seconds(2))
      const backoff = options.backoff ?? { base: Duration.seconds(1), max: maxRetryWait }
      const maxAttempts = Math.max(1, options.maxAttempts ?? 8)
      let lastCall = Number.NEGATIVE_INFINITY

      const paced = <A>(call: Effect.Effect<A, CoinGecko.CoinGeckoError>) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const wait = lastCall + interval - now
          if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
          lastCall = yield* Clock.currentTimeMillis
          return yield* call
        })

      /** market_chart with retries: after a 429's Retry-After (never less than the backoff), else exponential backoff. */
      const fetchChart = (tally: Tally) =>
        Effect.gen(function* () {
          const coinId = tally.coinId
          for (let attempt = 1; ; attempt++) {
            tally.phase = attempt === 1 ? "fetching" : `fetching (attempt ${attempt})`
            const result = yield* Effect.either(paced(client.marketChart(coinId, options.days)))
            if (Either.isRight(result)) return result.right
            const error = result.left
            if (!error.retryable || attempt >= maxAttempts) return yield* Effect.fail(error)
            const delay = CoinGecko.retryDelay(error, attempt, backoff, yield* Random.next)
            tally.phase = `waiting ${Duration.format(delay)} (${error.reason})`
            yield* progress.line(
              `backfill: ${coinId}: ${error.message}; retrying in ${Duration.format(delay)} (attempt ${attempt} of ${maxAttempts})`
            )
            yield* Effect.sleep(delay)
          }
        })

      /** Ends a coin that publishes nothing. */
      const finish = (tally: Tally, problem: string, failed = false) =>
        Effect.suspend(() => {
          tally.problem = problem
          tally.failed = failed
          tally.finished = true
          return progress.line(`backfill: ${tally.coinId} (${tally.symbol}): ${problem}`)
        })

      /** One coin's history, as the ticks to publish. */
      const coinTicks = (coinId: string): Effect.Effect<ReadonlyArray<Tick>> =>
        Effect.gen(function* () {
          const symbol = symbolOf(coinId)
          const tally: Tally = {
            coinId,
            symbol,
            points: 0,
            toPublish: 0,
            published: 0,
            skipped: 0,
            bad: 0,
            failed: false,
            finished: false,
            phase: "fetching"
          }
          tallies.set(coinId, tally)

          const chart = yield* Effect.either(fetchChart(tally))
          if (Either.isLeft(chart)) {
            yield* finish(tally, `not fetched: ${chart.left.message}`, true)
            return []
          }
          const history = historyTicks(chart.right, coinId, symbol, yield* Clock.currentTimeMillis)
          if (Either.isLeft(history)) {
            yield* finish(tally, `unusable answer: ${history.left}`, true)
            return []
          }
          const { bad, ticks } = history.right
          tally.points = ticks.length
          tally.bad = bad.length
          if (bad.length > 0) {
            yield* Effect.logWarning(
              `backfill: ${coinId}: ${bad.length} points give no valid tick, skipped: ${bad
                .slice(0, 5)
                .map(([w, why]) => `${w}: ${why}`)
                .join("; ")}`
            )
          }
          const there = newest.get(symbol)
          if (there !== undefined && there.source !== "coingecko") {
            tally.skipped = ticks.length
            yield* finish(
              tally,
              `skipped: the topic already holds ${there.source} ticks of ${symbol} (up to ${new Date(there.eventTime).toISOString()}); ` +
                `real history would be mixed into those candles (use a fresh topic)`
            )
            return []
          }
          const fresh = there === undefined ? ticks : ticks.filter((t) => t.eventTime > there.eventTime)
          tally.skipped = ticks.length - fresh.length
          if (fresh.length === 0) {
            yield* finish(
              tally,
              ticks.length === 0
                ? "the answer holds no points"
                : `nothing new: the topic already holds ${symbol} up to ${new Date(there!.eventTime).toISOString()}, ` +
                    `at or after all ${thousands(ticks.length)} points`
            )
            return []
          }
          tally.toPublish = fresh.length
          tally.phase = `publishing 0/${thousands(fresh.length)}`
          const first = new Date(fresh[0]!.eventTime).toISOString()
          const last = new Date(fresh[fresh.length - 1]!.eventTime).toISOString()
          yield* progress.line(
            `backfill: ${coinId} (${symbol}): ${thousands(ticks.length)} points, ${thousands(fresh.length)} to publish (${first} → ${last})` +
              (tally.skipped > 0 ? `, ${thousands(tally.skipped)} already in the topic` : "") +
              (bad.length > 0 ? `, ${bad.length} bad` : "")
          )
          return fresh
        })

      const onPublished = (batch: ReadonlyArray<Tick>) =>
        Effect.gen(function* () {
          for (const tick of batch) {
            const tally = tallies.get(tick.coinId)
            if (tally === undefined) continue
            tally.published += 1
            tally.phase = `publishing ${thousands(tally.published)}/${thousands(tally.toPublish)}`
            if (tally.published === tally.toPublish) {
              tally.finished = true
              yield* progress.line(
                `backfill: ${tally.coinId} (${tally.symbol}): ${thousands(tally.published)} ticks published`
              )
            }
          }
        })

      // One coin after the other, oldest point first; fetching the next coin overlaps publishing the previous one.
      const history = Stream.fromIterable(options.coins).pipe(Stream.mapEffect(coinTicks), Stream.flattenIterables)
      yield* Producer.publishStream(history, {
        topic: options.topic,
        bufferSize: options.bufferSize ?? 10_000,
        onPublished,
        label: "backfill",
        ...(options.publishRetry === undefined ? {} : { retry: options.publishRetry }),
        ...(options.drainTimeout === undefined ? {} : { drainTimeout: options.drainTimeout })
      })
    })

    const summary = (now: number): Summary => {
      const coins = [...tallies.values()].map(toResult)
      return { coins, published: coins.reduce((n, r) => n + r.published, 0), elapsed: Duration.millis(now - startedAt) }
    }
    const redraw = Effect.forever(Effect.zipRight(progress.tick, Effect.sleep(sink.isTTY ? "200 millis" : "1 second")))

    yield* progress.aroundLogs(Effect.raceFirst(body, Effect.zipRight(redraw, Effect.never))).pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function* () {
          yield* progress.finish
          const s = summary(yield* Clock.currentTimeMillis)
          sink.write(
            `backfill: interrupted after ${thousands(s.published)} ticks published; run it again to go on ` +
              `(points the topic already holds are skipped)\n`
          )
        })
      ),
      Effect.ensuring(progress.finish)
    )
    const s = summary(yield* Clock.currentTimeMillis)
    const failed = [...tallies.values()].filter((t) => t.failed)
    if (failed.length > 0) {
      return yield* new BackfillError({
        message: `backfill: ${failed.length} of ${options.coins.length} coins failed: ${failed.map((t) => `${t.coinId}: ${t.problem}`).join("; ")}`,
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
