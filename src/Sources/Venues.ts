import * as Fs from "node:fs"
import * as NodePath from "node:path"
import { Effect, Layer, Option, Stream } from "effect"
import { type TradeVenue, tradeVenues } from "../Config/Sources.js"
import type { SourceConfig } from "../Config.js"
import { type Market, marketParts, venueSymbol } from "../Domain/Market.js"
import { tradeToTick } from "../Domain/Tick.js"
import type { LastId } from "../Venues/Continuity.js"
import * as Recording from "../Venues/Recording.js"
import * as VenueReplay from "../Venues/Replay.js"
import type { VenueEvent } from "../Venues/Source.js"
import * as VenueSource from "../Venues/Source.js"
import { SourceError, type SourceRecord } from "./Source.js"
import * as Status from "./Status.js"

export type { VenueEvent } from "../Venues/Source.js"

/** One venue source as configured: its markets, its URLs, where it left off, where to record its frames. */
export interface VenueOptions {
  readonly venue: TradeVenue
  readonly markets: ReadonlyArray<Market>
  readonly wsUrl: string
  readonly restUrl: string
  /** Per market, the last trade id already on the bus: the source fills from the next one. */
  readonly lastIds: ReadonlyMap<Market, LastId>
  /** RECORD_FRAMES: the directory of `<venue>.jsonl`. */
  readonly recordDir: Option.Option<string>
}

export const venueOptions = (
  config: SourceConfig,
  venue: TradeVenue,
  lastIds: ReadonlyMap<Market, LastId> = new Map()
): VenueOptions => ({
  venue,
  markets: config.markets.filter((m) => marketParts(m).venue === venue),
  wsUrl: config.venueUrls[venue].ws,
  restUrl: config.venueUrls[venue].rest,
  lastIds: new Map([...lastIds].filter(([m]) => marketParts(m).venue === venue)),
  recordDir: config.recordFrames
})

/** A venue event as a bus record: a trade as a tick (coinId = the venue's symbol), a gap or a kline as itself. */
export const toRecord = (event: VenueEvent): SourceRecord =>
  event._tag === "Trade"
    ? tradeToTick(event.trade, venueSymbol(marketParts(event.trade.market)))
    : event._tag === "Gap"
      ? event.gap
      : event.kline

/** The venue's events as bus records; every trade also tells the status registry the venue is alive. */
export const records = <E>(venue: TradeVenue, events: Stream.Stream<VenueEvent, E>): Stream.Stream<SourceRecord, E> =>
  events.pipe(
    Stream.tap((event) => (event._tag === "Trade" ? Status.traded(venue, event.trade.receiptTime) : Effect.void)),
    Stream.map(toRecord)
  )

/** One venue's live stream (src/Venues/Source.ts): never fails, never ends; registered for /ready. */
export const live = (options: VenueOptions): Stream.Stream<SourceRecord, SourceError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      yield* Status.register(options.venue, options.markets.length)
      yield* Effect.logInfo(
        `${options.venue}: ${options.markets.length} markets from ${options.wsUrl} (REST ${options.restUrl})` +
          (options.lastIds.size > 0 ? `, ${options.lastIds.size} resumed where the topic left off` : "")
      )
      const events = VenueSource.stream({
        venue: options.venue,
        markets: options.markets,
        wsUrl: options.wsUrl,
        restUrl: options.restUrl,
        lastIds: options.lastIds
      })
      return records(options.venue, recorded(options, events))
    })
  )

/** RECORD_FRAMES: the venue's frames and REST answers into `<dir>/<venue>.jsonl` as they pass. */
const recorded = (options: VenueOptions, events: Stream.Stream<VenueEvent>): Stream.Stream<VenueEvent, SourceError> =>
  Option.match(options.recordDir, {
    onNone: () => events,
    onSome: (dir) =>
      Stream.provideSomeLayer(
        events,
        Recording.layer(dir).pipe(
          Layer.mapError(
            (e) =>
              new SourceError({ source: options.venue, reason: "io", message: `RECORD_FRAMES: ${e.message}`, cause: e })
          )
        )
      )
  })

const recordingLine = /^\s*\{\s*"at"\s*:\s*\d+/

/**
 * Whether `replay:<path>` is a venue recording (RECORD_FRAMES' `<venue>.jsonl`, or a directory holding one) rather
 * than a tick file: by name, else by its first line (`{"at":…,"kind":…}`, where a Tick line starts otherwise).
 */
export const isVenueRecording = (path: string): boolean => {
  try {
    const info = Fs.statSync(path)
    if (info.isDirectory()) return tradeVenues.some((v) => Fs.existsSync(NodePath.join(path, `${v}.jsonl`)))
    const base = NodePath.basename(path).toLowerCase()
    if (tradeVenues.some((v) => base === `${v}.jsonl`)) return true
    const fd = Fs.openSync(path, "r")
    try {
      const head = Buffer.alloc(256)
      const n = Fs.readSync(fd, head, 0, head.length, 0)
      const first = head.subarray(0, n).toString("utf8").split("\n")[0] ?? ""
      return recordingLine.test(first) && /"kind"\s*:/.test(first)
    } finally {
      Fs.closeSync(fd)
    }
  } catch {
    // Unreadable: the tick replay reports it, with its reason.
    return false
  }
}

/** A venue recording replayed through the live path (src/Venues/Replay.ts), at REPLAY_SPEED; MARKETS names its markets. */
export const replay = (
  path: string,
  config: SourceConfig,
  lastIds: ReadonlyMap<Market, LastId>
): Stream.Stream<SourceRecord, SourceError> =>
  VenueReplay.replay({
    path,
    markets: config.markets,
    speed: config.replay.speed === "max" ? undefined : config.replay.speed,
    lastIds
  }).pipe(
    Stream.map(toRecord),
    Stream.mapError(
      (e) => new SourceError({ source: "replay", reason: "bad-input", message: `replay: ${e.message}`, cause: e })
    )
  )
