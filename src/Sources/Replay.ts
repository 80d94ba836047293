import * as NodePath from "node:path"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Chunk, Clock, Duration, Effect, Either, Metric, Option, Stream } from "effect"
import type { ReplaySpeed, SourceConfig } from "../Config.js"
import { Tick } from "../Domain/Tick.js"
import { marketChartTicks } from "./CoinGecko/MarketChart.js"
import { coinInfo } from "./Coins.js"
import { csvParser, parseNdjsonLine } from "./Replay/Rows.js"
import { SourceError } from "./Source.js"

/**
 * Replays recorded ticks from a file or a directory:
 *
 * - `.ndjson` / `.jsonl`: one Tick JSON object per line. `source` and `ingestTime` may be absent (they are replaced);
 *   `symbol` or `coinId` may be absent when the other is given; `eventTime` is epoch ms or an ISO 8601 string.
 * - `.csv`: a header line naming the columns (any order, case and `_` ignored): `symbol`, `coinId`, `price`,
 *   `eventTime` (epoch ms or ISO 8601), `volume`, `volume24h`, `marketCap`, `change24h`. `price`, `eventTime` and
 *   `symbol` or `coinId` are required; empty cells are absent; other columns are ignored.
 * - `.json`: a CoinGecko `/coins/{id}/market_chart` answer, `{prices: [[ms, price]…], market_caps, total_volumes}`;
 *   the coin id is the file name (bitcoin.json) unless `coin` is given; caps and 24 h volumes join on the timestamp.
 * - a directory: every file of those kinds in it, merged by event time (loaded into memory).
 *
 * Ticks keep their recorded event time; `source` is "replay" and `ingestTime` the moment each is emitted.
 * A line that does not give a valid tick is logged with its line number (`prices[i]` in a market_chart file),
 * counted in `replay_bad_lines_total` and skipped.
 */
export interface Options {
  readonly path: string
  /** × the recorded pace, or "max": as fast as the consumer takes them. */
  readonly speed: ReplaySpeed
  /** Coin id for a single market_chart file not named after its coin. */
  readonly coin?: string
}

export type Format = "ndjson" | "csv" | "market_chart"

export const optionsFromConfig = (path: string, config: SourceConfig): Options => ({
  path,
  speed: config.replay.speed,
  ...Option.match(config.replay.coin, { onNone: () => ({}), onSome: (coin) => ({ coin }) })
})

export const formatOf = (path: string): Option.Option<Format> => {
  switch (NodePath.extname(path).toLowerCase()) {
    case ".ndjson":
    case ".jsonl":
      return Option.some("ndjson")
    case ".csv":
      return Option.some("csv")
    case ".json":
      return Option.some("market_chart")
    default:
      return Option.none()
  }
}

export const metrics = {
  ticks: Metric.counter("replay_ticks_total", { description: "Ticks read from replay files", incremental: true }),
  badLines: Metric.counter("replay_bad_lines_total", {
    description: "Replay lines skipped because they give no valid tick",
    incremental: true
  })
}

// == pace

const stamp = (tick: Tick, now: number) => new Tick({ ...tick, ingestTime: now }, true)

/**
 * Emits ticks at their recorded pace × `speed`: tick n waits until (eventTime(n) − eventTime(first)) / speed after the
 * first was emitted (measured from the start, so delays do not add up); one whose time is already past, or earlier than
 * the first, goes at once. "max" does not wait. Every tick gets ingestTime = the moment it is emitted.
 */
export const pace =
  (speed: ReplaySpeed) =>
  <E, R>(self: Stream.Stream<Tick, E, R>): Stream.Stream<Tick, E, R> =>
    Stream.suspend(() => {
      if (speed === "max") {
        return Stream.mapChunksEffect(self, (chunk) =>
          Effect.map(Clock.currentTimeMillis, (now) => Chunk.map(chunk, (t) => stamp(t, now)))
        )
      }
      let origin: { readonly wall: number; readonly event: number } | undefined
      return Stream.mapEffect(self, (tick) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          if (origin === undefined) {
            origin = { wall: now, event: tick.eventTime }
            return stamp(tick, now)
          }
          const wait = Math.ceil(origin.wall + (tick.eventTime - origin.event) / speed - now)
          if (wait <= 0) return stamp(tick, now)
          yield* Effect.sleep(Duration.millis(wait))
          return stamp(tick, yield* Clock.currentTimeMillis)
        })
      )
    })

// == files

const shownPerFile = 20

const ioError = (message: string, cause: unknown) => new SourceError({ source: "replay", reason: "io", message, cause })
const badInput = (message: string) => new SourceError({ source: "replay", reason: "bad-input", message })

/** Counts and reports one file's bad lines (the first 20 with their numbers, then only counted) and its total. */
const makeReport = (file: string) => {
  let ticks = 0
  let bad = 0
  return {
    good: (n: number) =>
      Effect.suspend(() => {
        ticks += n
        return Metric.incrementBy(metrics.ticks, n)
      }),
    bad: (where: string, why: string) =>
      Effect.suspend(() => {
        bad += 1
        const log =
          bad <= shownPerFile
            ? Effect.logWarning(`replay: ${file}:${where}: skipped: ${why}`)
            : bad === shownPerFile + 1
              ? Effect.logWarning(`replay: ${file}: more bad lines; from here they are only counted`)
              : Effect.void
        return Effect.zipRight(Metric.increment(metrics.badLines), log)
      }),
    done: Effect.suspend(() =>
      Effect.logInfo(`replay: ${file}: ${ticks} ticks read, ${bad} bad ${bad === 1 ? "line" : "lines"} skipped`)
    )
  }
}

/** NDJSON or CSV, read line by line (files of any size). */
const lineFile = (
  fs: FileSystem.FileSystem,
  file: string,
  format: "ndjson" | "csv"
): Stream.Stream<Tick, SourceError> =>
  Stream.suspend(() => {
    const report = makeReport(file)
    let lineNo = 0
    let parse: ((line: string) => Either.Either<Tick, string>) | undefined =
      format === "ndjson" ? parseNdjsonLine : undefined
    const ticks = fs.stream(file).pipe(
      Stream.mapError((e) => ioError(`replay: cannot read ${file}: ${e.message}`, e)),
      Stream.decodeText(),
      Stream.splitLines,
      Stream.mapChunksEffect((lines) =>
        Effect.gen(function* () {
          const out: Array<Tick> = []
          for (const line of lines) {
            lineNo += 1
            if (line.trim().length === 0) continue
            if (parse === undefined) {
              const parser = csvParser(line)
              if (Either.isLeft(parser))
                return yield* Effect.fail(badInput(`replay: ${file}:${lineNo}: ${parser.left}`))
              if (parser.right.ignored.length > 0) {
                yield* Effect.logInfo(`replay: ${file}: ignoring columns ${parser.right.ignored.join(", ")}`)
              }
              parse = parser.right.parse
              continue
            }
            const tick = parse(line)
            if (Either.isRight(tick)) out.push(tick.right)
            else yield* report.bad(String(lineNo), tick.left)
          }
          yield* report.good(out.length)
          return Chunk.unsafeFromArray(out)
        })
      )
    )
    return Stream.concat(ticks, Stream.drain(Stream.fromEffect(report.done)))
  })

const marketChartFile = (fs: FileSystem.FileSystem, file: string, coin: string | undefined) =>
  Effect.gen(function* () {
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => ioError(`replay: cannot read ${file}: ${e.message}`, e)))
    const json = yield* Either.try(() => JSON.parse(text) as unknown).pipe(
      Either.mapLeft(() =>
        badInput(`replay: ${file}: not JSON (a .json file must be a market_chart answer; use .ndjson for tick lines)`)
      )
    )
    const coinId = coin ?? NodePath.basename(file, NodePath.extname(file))
    const label = { coinId, symbol: coinInfo(coinId).symbol, source: "replay", ingestTime: 0 } as const
    const read = marketChartTicks(json, label)
    if (Either.isLeft(read)) return yield* Effect.fail(badInput(`replay: ${file}: ${read.left}`))
    const report = makeReport(file)
    for (const [where, why] of read.right.bad) yield* report.bad(where, why)
    yield* report.good(read.right.ticks.length)
    yield* Effect.logInfo(`replay: ${file}: market_chart of ${coinId} (${coinInfo(coinId).symbol})`)
    yield* report.done
    return read.right.ticks
  })

const fileStream = (
  fs: FileSystem.FileSystem,
  file: string,
  format: Format,
  coin: string | undefined
): Stream.Stream<Tick, SourceError> =>
  format === "market_chart"
    ? Stream.flatMap(Stream.fromEffect(marketChartFile(fs, file, coin)), Stream.fromIterable)
    : lineFile(fs, file, format)

const describeSpeed = (speed: ReplaySpeed) =>
  speed === "max" ? "as fast as the bus takes them" : `at ×${speed} the recorded pace`

/**
 * Checks the path up front (a missing file or an unknown format fails here, with reason "io" or "bad-input"),
 * then gives the replay as a stream. It ends after the last tick.
 */
export const open = (options: Options): Effect.Effect<Stream.Stream<Tick, SourceError>, SourceError> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = options.path
    const info = yield* fs
      .stat(path)
      .pipe(Effect.mapError((e) => ioError(`replay: cannot read ${path}: ${e.message}`, e)))
    if (info.type === "Directory") {
      const names = yield* fs
        .readDirectory(path)
        .pipe(Effect.mapError((e) => ioError(`replay: cannot list ${path}: ${e.message}`, e)))
      const files = names
        .flatMap((name) =>
          Option.match(formatOf(name), {
            onNone: () => [],
            onSome: (format) => [[NodePath.join(path, name), format] as const]
          })
        )
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      if (files.length === 0)
        return yield* Effect.fail(badInput(`replay: ${path} holds no .ndjson, .jsonl, .csv or .json files`))
      if (options.coin !== undefined)
        yield* Effect.logWarning(
          `replay: REPLAY_COIN is ignored for a directory: each market_chart file is named after its coin`
        )
      yield* Effect.logInfo(
        `replay: ${path}: ${files.length} files merged by event time, ${describeSpeed(options.speed)}`
      )
      const merged = Stream.fromIterableEffect(
        Effect.map(
          Effect.forEach(files, ([file, format]) => Stream.runCollect(fileStream(fs, file, format, undefined))),
          (chunks) => chunks.flatMap((c) => Chunk.toArray(c)).sort((a, b) => a.eventTime - b.eventTime)
        )
      )
      return pace(options.speed)(merged)
    }
    const format = formatOf(path)
    if (Option.isNone(format)) {
      return yield* Effect.fail(
        badInput(`replay: ${path}: unknown format; use .ndjson/.jsonl (ticks), .csv (ticks) or .json (market_chart)`)
      )
    }
    yield* Effect.logInfo(`replay: ${path}: ${format.value}, ${describeSpeed(options.speed)}`)
    return pace(options.speed)(fileStream(fs, path, format.value, options.coin))
  }).pipe(Effect.provide(NodeFileSystem.layer), Effect.withSpan("Replay.open"))

/** `open` as one stream: a bad path fails the stream instead. */
export const stream = (options: Options): Stream.Stream<Tick, SourceError> => Stream.unwrap(open(options))
