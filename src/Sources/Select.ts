import { Effect, Either, Option, Stream } from "effect"
import type { SourceConfig, SourceSetting } from "../Config.js"
import type { Market } from "../Domain/Market.js"
import type { Tick } from "../Domain/Tick.js"
import type { LastId } from "../Venues/Continuity.js"
import * as CoinGecko from "./CoinGecko.js"
import * as Replay from "./Replay.js"
import * as Simulator from "./Simulator.js"
import type { SourceError, SourceRecord } from "./Source.js"
import * as Venues from "./Venues.js"

/**
 * SOURCE → the stream of bus records: coingecko, simulator, replay:<path> (ticks, or a venue recording), auto (CoinGecko
 * when it answers), and the venues' trades (binance, coinbase, kraken), each entry its own stream.
 */

/** The simulator's history, when it is to publish one (a fresh topic): a day, a tick per coin every 30 seconds. */
export const simulatorHistory = { spanMs: 86_400_000, spacingMs: 30_000 } as const

export interface OpenOptions {
  /** The simulator publishes `simulatorHistory` first (HISTORY, on a fresh topic). */
  readonly history?: boolean
}

const simulator = (config: SourceConfig, options: OpenOptions): Stream.Stream<Tick> =>
  Simulator.stream({
    coins: config.coins,
    rate: config.simulatorRate,
    seed: Option.getOrElse(config.simulatorSeed, () => Date.now()),
    ...(options.history === true ? { history: simulatorHistory } : {})
  })

/**
 * SOURCE=auto: one /ping with COINGECKO_PROBE_TIMEOUT. CoinGecko when it answers, else the simulator; decided once,
 * at start, so real and simulated ticks never mix (each tick says which it is in `source`).
 */
const auto = (config: SourceConfig, opened: OpenOptions): Effect.Effect<Stream.Stream<Tick, SourceError>> =>
  Effect.gen(function* () {
    const options = CoinGecko.optionsFromConfig(config)
    const probe = yield* Effect.either(CoinGecko.probe({ ...options, timeout: config.coingecko.probeTimeout }))
    if (Either.isRight(probe)) {
      yield* Effect.logInfo(
        `SOURCE=auto: CoinGecko answered at ${options.baseUrl}; using it (ticks are labelled source=coingecko)`
      )
      return CoinGecko.stream(options)
    }
    yield* Effect.logWarning(
      `SOURCE=auto: CoinGecko is not usable at ${options.baseUrl} (${probe.left.message}); ` +
        `using the simulator instead (ticks are labelled source=simulator)`
    )
    return simulator(config, opened)
  })

/** A SOURCE entry as written. */
export const describe = (setting: SourceSetting): string =>
  setting._tag === "venue" ? setting.venue : setting._tag === "replay" ? `replay:${setting.file}` : setting._tag

/** One SOURCE entry as its stream. */
const open = (
  config: SourceConfig,
  setting: SourceSetting,
  lastIds: ReadonlyMap<Market, LastId>,
  options: OpenOptions
): Effect.Effect<Stream.Stream<SourceRecord, SourceError>, SourceError> => {
  switch (setting._tag) {
    case "simulator":
      return Effect.succeed(simulator(config, options))
    case "coingecko":
      return Effect.succeed(CoinGecko.stream(CoinGecko.optionsFromConfig(config)))
    case "auto":
      return auto(config, options)
    case "venue":
      return Effect.succeed(Venues.live(Venues.venueOptions(config, setting.venue, lastIds)))
    case "replay":
      return Venues.isVenueRecording(setting.file)
        ? Effect.succeed(Venues.replay(setting.file, config, lastIds))
        : Replay.open(Replay.optionsFromConfig(setting.file, config))
  }
}

/**
 * The configured sources as one stream of bus records: each SOURCE entry its own stream, merged as they come, so a
 * slow or silent source never holds back the others (a venue source never fails; it reconnects). `lastIds`: per
 * market, the last trade id the topic holds, for venue sources to fill from.
 */
export const fromConfig = (
  config: SourceConfig,
  lastIds: ReadonlyMap<Market, LastId> = new Map(),
  options: OpenOptions = {}
): Effect.Effect<Stream.Stream<SourceRecord, SourceError>, SourceError> =>
  Effect.forEach(config.sources, (setting) => open(config, setting, lastIds, options)).pipe(
    Effect.map((streams) =>
      streams.length === 1
        ? (streams[0] as Stream.Stream<SourceRecord, SourceError>)
        : Stream.mergeAll(streams, { concurrency: "unbounded" })
    )
  )
