import * as NodePath from "node:path"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Context, Data, type Duration, Effect, Either, Layer, Schema, Scope, Stream } from "effect"
import { EpochMillis } from "../Domain/Primitives.js"
import { describeParseError } from "../Text.js"
import type { FrameEvent } from "./Connection.js"

/**
 * Recording a venue's traffic (RECORD_FRAMES=<dir>): `<dir>/<venue>.jsonl`, one line per event, in the order they
 * happened, appended to what is there. Replaying (SOURCE=replay:…) reads the same lines with `RecordingLine`.
 *
 * - `open`: a connection opened; `url` is where to, `text` is empty (replay numbers the opens itself).
 * - `frame`: a text frame as received, byte for byte (JSON escapes keep it on one line).
 * - `closed`: a connection closed or could not open; `text` says why.
 * - `rest`: a REST answer the gap-fill got: `url` (path and query), `status`, `text` the body.
 */
export const RecordingLine = Schema.Struct({
  at: EpochMillis,
  kind: Schema.Literal("open", "frame", "closed", "rest"),
  text: Schema.String,
  url: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.between(100, 599)))
}).annotations({ identifier: "RecordingLine" })
export type RecordingLine = typeof RecordingLine.Type

const decodeJsonLine = Schema.decodeUnknownEither(Schema.parseJson(RecordingLine), { onExcessProperty: "ignore" })

/** One line of a recording → its event, or what is wrong with it. */
export const decodeLine = (line: string): Either.Either<RecordingLine, string> =>
  Either.mapLeft(decodeJsonLine(line), (e) => describeParseError(e, 300))

/** The line's text, keys in the documented order (at, kind, text, url, status), no newline. */
export const encodeLine = (line: RecordingLine): string =>
  JSON.stringify({ at: line.at, kind: line.kind, text: line.text, url: line.url, status: line.status })

/** A connection's event as a line. */
export const lineOf = (event: FrameEvent): RecordingLine => {
  switch (event._tag) {
    case "Open":
      return { at: event.at, kind: "open", text: "", url: event.url }
    case "Frame":
      return { at: event.at, kind: "frame", text: event.text }
    case "Closed":
      return { at: event.at, kind: "closed", text: event.reason }
  }
}

/** The recording directory cannot be made. (A file that fails later is logged once and left; the source goes on.) */
export class RecordingError extends Data.TaggedError("RecordingError")<{
  readonly dir: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot record into ${this.dir}: ${String(this.cause)}`
  }
}

export interface Recorder {
  readonly dir: string
  /** Appends a line to `<dir>/<venue>.jsonl` (buffered; waits for a write when the buffer is full). */
  readonly write: (venue: string, line: RecordingLine) => Effect.Effect<void>
  /** Writes out every buffered line now. */
  readonly flush: Effect.Effect<void>
}

export interface RecorderOptions {
  /** Buffered lines are written at least this often (default 1 s). */
  readonly flushEvery?: Duration.DurationInput
  /** Characters buffered per file before a write is waited for (default 64 Ki). */
  readonly maxBuffered?: number
}

interface VenueFile {
  readonly path: string
  file: FileSystem.File | undefined
  lines: Array<string>
  chars: number
  broken: boolean
}

/** A recorder writing into `dir` (made if missing); the scope's end writes out the rest and closes the files. */
export const makeRecorder = (
  dir: string,
  options: RecorderOptions = {}
): Effect.Effect<Recorder, RecordingError, Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs
      .makeDirectory(dir, { recursive: true })
      .pipe(Effect.mapError((cause) => new RecordingError({ dir, cause })))
    // The files live in a scope of their own, closed after the last flush (finalizers run last-added first).
    const filesScope = yield* Effect.acquireRelease(Scope.make(), (s, exit) => Scope.close(s, exit))
    const lock = yield* Effect.makeSemaphore(1)
    const files = new Map<string, VenueFile>()
    const maxBuffered = options.maxBuffered ?? 65_536
    const encoder = new TextEncoder()

    const writeOut = (f: VenueFile) =>
      Effect.gen(function* () {
        if (f.lines.length === 0) return
        const text = f.lines.join("")
        f.lines = []
        f.chars = 0
        if (f.broken) return
        f.file ??= yield* Scope.extend(fs.open(f.path, { flag: "a" }), filesScope)
        yield* f.file.writeAll(encoder.encode(text))
      }).pipe(
        Effect.catchAll((e) => {
          f.broken = true
          return Effect.logError(`recording to ${f.path} stopped: ${e.message}`)
        })
      )
    const flush = lock.withPermits(1)(
      Effect.suspend(() => Effect.forEach([...files.values()], writeOut, { discard: true }))
    )
    yield* Effect.addFinalizer(() => flush)
    yield* Effect.forkScoped(
      Effect.forever(Effect.sleep(options.flushEvery ?? "1 second").pipe(Effect.zipRight(flush)))
    )

    const write = (venue: string, line: RecordingLine) =>
      Effect.suspend(() => {
        let f = files.get(venue)
        if (f === undefined) {
          f = { path: NodePath.join(dir, `${venue}.jsonl`), file: undefined, lines: [], chars: 0, broken: false }
          files.set(venue, f)
        }
        if (f.broken) return Effect.void
        const text = `${encodeLine(line)}\n`
        f.lines.push(text)
        f.chars += text.length
        const full = f
        return full.chars >= maxBuffered ? lock.withPermits(1)(writeOut(full)) : Effect.void
      })
    return { dir, write, flush }
  }).pipe(Effect.provide(NodeFileSystem.layer))

/** The recorder of this run, when RECORD_FRAMES is set; the venue sources look for it and record if it is there. */
export class Recording extends Context.Tag("Venues/Recording")<Recording, Recorder>() {}

export const layer = (dir: string, options?: RecorderOptions): Layer.Layer<Recording, RecordingError> =>
  Layer.scoped(Recording, makeRecorder(dir, options))

/** Records a REST answer, if a recorder is there (for the gap-fill's client). */
export const recordRest = (venue: string, url: string, status: number, text: string, at: number): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Recording), (recorder) =>
    recorder._tag === "Some" ? recorder.value.write(venue, { at, kind: "rest", text, url, status }) : Effect.void
  )

/** Every event of a connection written to `recorder` as it passes. */
export const recordWith =
  (recorder: Recorder, venue: string) =>
  <E, R>(events: Stream.Stream<FrameEvent, E, R>): Stream.Stream<FrameEvent, E, R> =>
    Stream.tap(events, (event) => recorder.write(venue, lineOf(event)))

/** Every event of a connection recorded as it passes, if a recorder is there; unchanged otherwise. */
export const recordFrames =
  (venue: string) =>
  <E, R>(events: Stream.Stream<FrameEvent, E, R>): Stream.Stream<FrameEvent, E, R> =>
    Stream.unwrap(
      Effect.map(Effect.serviceOption(Recording), (recorder) =>
        recorder._tag === "Some" ? recordWith(recorder.value, venue)(events) : events
      )
    )
