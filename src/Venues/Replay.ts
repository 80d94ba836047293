import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Data, Effect, Either, Stream } from "effect"
import type { Market } from "../Domain/Market.js"
import { marketParts } from "../Domain/Market.js"
import type { LastId } from "./Continuity.js"
import type { FillBudget, VenueEvent } from "./GapFill.js"
import { type FrameInput, fromFrames } from "./Pipeline.js"
import { decodeLine, type RecordingLine } from "./Recording.js"
import { makeClient, type RestAnswer, type TradeVenue, type Transport, TransportError } from "./Rest.js"

/**
 * A recording played back through the live path: the same decoders, continuity and gap-fill, with the REST answers
 * served from the recording's `rest` lines (by path, in the order they were recorded) instead of the network. Frames
 * keep their receipt times, and filled trades the time of their recorded answer, so a replay gives the events the
 * live run gave. A recording is read whole before it plays (two passes: the answers are needed before their lines).
 */

/** One line of a recording (docs/markets.md, "Venue sources"): Recording.ts writes them. */
export type RecordedLine = RecordingLine

export class ReplayError extends Data.TaggedError("ReplayError")<{ readonly message: string }> {}

export interface ReplayOptions {
  /** A directory of `<venue>.jsonl`, or one such file. */
  readonly path: string
  /** The markets to read (a frame's symbol is read against them); those of venues not recorded are ignored. */
  readonly markets: ReadonlyArray<Market>
  /** The recorded pace times this; undefined, 0 or Infinity: as fast as it goes. */
  readonly speed?: number | undefined
  readonly lastIds?: ReadonlyMap<Market, LastId> | undefined
  readonly budget?: FillBudget | undefined
}

const tradeVenues: ReadonlyArray<TradeVenue> = ["binance", "coinbase", "kraken"]

/** The recorded answers, each path's in order; a path asked more often than recorded is not in the recording. */
export const recordedTransport = (lines: ReadonlyArray<RecordedLine>): Transport => {
  const answers = new Map<string, Array<RestAnswer>>()
  for (const l of lines) {
    if (l.kind !== "rest" || l.url === undefined) continue
    const list = answers.get(l.url) ?? []
    list.push({ at: l.at, url: l.url, status: l.status ?? 200, text: l.text, retryAfter: undefined })
    answers.set(l.url, list)
  }
  return (url) => {
    const next = answers.get(url)?.shift()
    return next === undefined
      ? Effect.fail(new TransportError({ message: `${url}: not in the recording` }))
      : Effect.succeed(next)
  }
}

/** A recording's frames as the connection gave them, at the recorded pace × speed (or as fast as it goes). */
const framesOf = (lines: ReadonlyArray<RecordedLine>, speed: number | undefined): Stream.Stream<FrameInput> => {
  const paced = speed !== undefined && speed > 0 && Number.isFinite(speed)
  let previous: number | undefined
  return Stream.fromIterable(lines).pipe(
    Stream.filter((l) => l.kind !== "rest"),
    Stream.mapEffect((l) => {
      const wait = paced && previous !== undefined ? Math.max(0, (l.at - previous) / speed) : 0
      previous = l.at
      const event: FrameInput =
        l.kind === "frame"
          ? { _tag: "Frame", at: l.at, text: l.text }
          : l.kind === "open"
            ? { _tag: "Open", at: l.at }
            : { _tag: "Closed", at: l.at, reason: l.text }
      return wait > 0 ? Effect.as(Effect.sleep(wait), event) : Effect.succeed(event)
    })
  )
}

/** One venue's recorded lines → its events, as live. */
export const replayLines = (
  venue: TradeVenue,
  lines: ReadonlyArray<RecordedLine>,
  options: Omit<ReplayOptions, "path">
): Stream.Stream<VenueEvent> =>
  Stream.unwrap(
    Effect.map(
      makeClient({
        venue,
        transport: recordedTransport(lines),
        limits: { minSpacing: 0, retryWait: 0, maxRetryAfter: "365 days" }
      }),
      (rest) =>
        fromFrames(framesOf(lines, options.speed), {
          venue,
          markets: options.markets.filter((m) => marketParts(m).venue === venue),
          lastIds: options.lastIds,
          budget: options.budget,
          rest,
          overflow: "wait"
        })
    )
  )

/** A file's lines; a line that is not a recording line is a clear error naming the file and line. */
export const readRecording = (file: string): Effect.Effect<ReadonlyArray<RecordedLine>, ReplayError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => Fs.readFile(file, "utf8"),
      catch: (e) => new ReplayError({ message: `${file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    const lines: Array<RecordedLine> = []
    const rows = text.split("\n")
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] ?? ""
      if (row.trim() === "") continue
      const line = decodeLine(row)
      if (Either.isLeft(line)) return yield* new ReplayError({ message: `${file}:${i + 1}: ${line.left}` })
      lines.push(line.right)
    }
    return lines
  })

const venueOfFile = (file: string): TradeVenue | undefined =>
  tradeVenues.find((v) => Path.basename(file) === `${v}.jsonl`)

/** The recordings at `path`: one file, or each `<venue>.jsonl` of a directory. */
const filesAt = (path: string): Effect.Effect<ReadonlyArray<[TradeVenue, string]>, ReplayError> =>
  Effect.tryPromise({
    try: async () => {
      const stat = await Fs.stat(path)
      const files = stat.isDirectory() ? (await Fs.readdir(path)).map((f) => Path.join(path, f)) : [path]
      return files.flatMap((f): Array<[TradeVenue, string]> => {
        const venue = venueOfFile(f)
        return venue === undefined ? [] : [[venue, f]]
      })
    },
    catch: (e) => new ReplayError({ message: `${path}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(
    Effect.filterOrFail(
      (files) => files.length > 0,
      () =>
        new ReplayError({ message: `${path}: no recording (expected binance.jsonl, coinbase.jsonl or kraken.jsonl)` })
    )
  )

/** Plays the recording at `options.path`: each venue's file its own stream, merged. */
export const replay = (options: ReplayOptions): Stream.Stream<VenueEvent, ReplayError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const files = yield* filesAt(options.path)
      const streams = yield* Effect.forEach(files, ([venue, file]) =>
        Effect.map(readRecording(file), (lines) => replayLines(venue, lines, options))
      )
      return Stream.mergeAll(streams, { concurrency: "unbounded" })
    })
  )
