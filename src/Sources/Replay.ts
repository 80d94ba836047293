import * as NodePath from "node:path"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Chunk, Clock, Duration, Effect, Either, Metric, Option, ParseResult, Schema, Stream } from "effect"
import type { ReplaySpeed, SourceConfig } from "../Config.js"
import { Tick } from "../Domain/Tick.js"
import { coinInfo, knownCoins } from "./Coins.js"
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

/** The CSV columns, as named in the header (matching ignores case and underscores). */
export const csvColumns = [
  "symbol",
  "coinId",
  "price",
  "eventTime",
  "volume",
  "volume24h",
  "marketCap",
  "change24h"
] as const
type Column = (typeof csvColumns)[number]

// == rows → ticks

const decodeTick = Schema.decodeUnknownEither(Tick)
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const nonBlank = (u: unknown): string | undefined =>
  typeof u === "string" && u.trim().length > 0 ? u.trim() : undefined
const shorten = (s: string, max = 120) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)
const bySymbol = new Map(knownCoins.map((c) => [c.symbol, c.id]))

/** "price: Expected a positive number, actual -1" rather than the schema's whole tree. */
const describeParseError = (e: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(e)
    .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
    .join("; ")

const eventTimeOf = (u: unknown): unknown => {
  if (typeof u !== "string") return u
  const s = u.trim()
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s)
  const ms = Date.parse(s)
  return Number.isNaN(ms) ? u : ms
}

/** A row (parsed JSON or CSV cells) → a Tick with ingestTime 0, or why not. */
export const rowToTick = (row: Record<string, unknown>): Either.Either<Tick, string> => {
  const symbolIn = nonBlank(row["symbol"])?.toUpperCase()
  const coinIdIn = nonBlank(row["coinId"])
  if (symbolIn === undefined && coinIdIn === undefined) return Either.left("needs a symbol or a coinId")
  const symbol = symbolIn ?? coinInfo(coinIdIn!).symbol
  const coinId = coinIdIn ?? bySymbol.get(symbol) ?? symbol.toLowerCase()
  const optional = (name: "volume" | "volume24h" | "marketCap" | "change24h") =>
    row[name] === undefined || row[name] === null ? {} : { [name]: row[name] }
  return Either.mapLeft(
    decodeTick({
      symbol,
      coinId,
      ...(row["price"] === undefined ? {} : { price: row["price"] }),
      ...optional("volume"),
      ...optional("volume24h"),
      ...optional("marketCap"),
      ...optional("change24h"),
      ...(row["eventTime"] === undefined ? {} : { eventTime: eventTimeOf(row["eventTime"]) }),
      source: "replay",
      ingestTime: 0
    }),
    (e) => shorten(describeParseError(e), 240)
  )
}

export const parseNdjsonLine = (line: string): Either.Either<Tick, string> => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return Either.left(`not JSON: ${shorten(line, 60)}`)
  }
  return isRecord(json) ? rowToTick(json) : Either.left("expected a JSON object")
}

/** One CSV line's cells: commas separate, double quotes may wrap a cell ("" is a quote inside). */
export const splitCsvLine = (line: string): Array<string> => {
  const cells: Array<string> = []
  let cell = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"' && cell.trim().length === 0) {
      quoted = true
      cell = ""
    } else if (c === ",") {
      cells.push(cell.trim())
      cell = ""
    } else cell += c
  }
  cells.push(cell.trim())
  return cells
}

const normalise = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "")
const columnByName = new Map<string, Column>(csvColumns.map((c) => [normalise(c), c]))

/** Reads a CSV header; the parser it returns turns one data line into a Tick or the reason it cannot. */
export const csvParser = (
  header: string
): Either.Either<
  { readonly parse: (line: string) => Either.Either<Tick, string>; readonly ignored: ReadonlyArray<string> },
  string
> => {
  const names = splitCsvLine(header)
  const columns = names.map((n) => columnByName.get(normalise(n)))
  const has = (c: Column) => columns.includes(c)
  const missing = [
    ...(has("price") ? [] : ["price"]),
    ...(has("eventTime") ? [] : ["eventTime"]),
    ...(has("symbol") || has("coinId") ? [] : ["symbol or coinId"])
  ]
  if (missing.length > 0) {
    return Either.left(
      `the CSV header "${shorten(header, 80)}" lacks ${missing.join(", ")} (columns: ${csvColumns.join(", ")})`
    )
  }
  const numeric = new Set<Column>(["price", "volume", "volume24h", "marketCap", "change24h"])
  const parse = (line: string): Either.Either<Tick, string> => {
    const cells = splitCsvLine(line)
    if (cells.length !== names.length) return Either.left(`expected ${names.length} cells, got ${cells.length}`)
    const row: Record<string, unknown> = {}
    columns.forEach((column, i) => {
      const cell = cells[i]!
      if (column === undefined || cell.length === 0) return
      const n = Number(cell)
      row[column] = numeric.has(column) && !Number.isNaN(n) ? n : cell
    })
    return rowToTick(row)
  }
  return Either.right({ parse, ignored: names.filter((_, i) => columns[i] === undefined) })
}

/** A market_chart answer → ticks in recorded order, and each price point that gave none (`prices[i]`: why). */
export const marketChartTicks = (
  json: unknown,
  coinId: string
): Either.Either<
  { readonly ticks: ReadonlyArray<Tick>; readonly bad: ReadonlyArray<readonly [string, string]> },
  string
> => {
  const chart = isRecord(json) && !Array.isArray(json["prices"]) && isRecord(json["data"]) ? json["data"] : json
  if (!isRecord(chart) || !Array.isArray(chart["prices"])) {
    return Either.left(
      'not a market_chart answer: expected {"prices": [[ms, price], …], "market_caps": …, "total_volumes": …}'
    )
  }
  const series = (name: string) => {
    const byTime = new Map<number, number>()
    const points = chart[name]
    if (Array.isArray(points)) {
      for (const p of points) {
        if (Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number") byTime.set(p[0], p[1])
      }
    }
    return byTime
  }
  const caps = series("market_caps")
  const volumes = series("total_volumes")
  const symbol = coinInfo(coinId).symbol
  const ticks: Array<Tick> = []
  const bad: Array<readonly [string, string]> = []
  chart["prices"].forEach((point: unknown, i) => {
    if (!Array.isArray(point) || point.length < 2 || typeof point[0] !== "number") {
      bad.push([`prices[${i}]`, `expected [ms, price], got ${shorten(JSON.stringify(point) ?? String(point), 60)}`])
      return
    }
    const time = point[0]
    const cap = caps.get(time)
    const volume = volumes.get(time)
    Either.match(
      rowToTick({
        symbol,
        coinId,
        price: point[1],
        eventTime: Math.round(time),
        ...(cap !== undefined && cap >= 0 ? { marketCap: cap } : {}),
        ...(volume !== undefined && volume >= 0 ? { volume24h: volume } : {})
      }),
      { onLeft: (why) => bad.push([`prices[${i}]`, why]), onRight: (t) => ticks.push(t) }
    )
  })
  return Either.right({ ticks, bad })
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
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return yield* Effect.fail(
        badInput(`replay: ${file}: not JSON (a .json file must be a market_chart answer; use .ndjson for tick lines)`)
      )
    }
    const coinId = coin ?? NodePath.basename(file, NodePath.extname(file))
    const read = marketChartTicks(json, coinId)
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
  }).pipe(Effect.provide(NodeFileSystem.layer))

/** `open` as one stream: a bad path fails the stream instead. */
export const stream = (options: Options): Stream.Stream<Tick, SourceError> => Stream.unwrap(open(options))
