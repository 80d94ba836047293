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

const simulator = (config: SourceConfig): Stream.Stream<Tick> =>
  Simulator.stream({
    coins: config.coins,
    rate: config.simulatorRate,
    seed: Option.getOrElse(config.simulatorSeed, () => Date.now())
  })

/**
 * SOURCE=auto: one /ping with COINGECKO_PROBE_TIMEOUT. CoinGecko when it answers, else the simulator; decided once,
 * at start, so real and simulated ticks never mix (each tick says which it is in `source`).
 */
const auto = (config: SourceConfig): Effect.Effect<Stream.Stream<Tick, SourceError>> =>
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
    return simulator(config)
  })

/** A SOURCE entry as written. */
export const describe = (setting: SourceSetting): string =>
  setting._tag === "venue" ? setting.venue : setting._tag === "replay" ? `replay:${setting.file}` : setting._tag

/** One SOURCE entry as its stream. */
const open = (
  config: SourceConfig,
  setting: SourceSetting,
  lastIds: ReadonlyMap<Market, LastId>
): Effect.Effect<Stream.Stream<SourceRecord, SourceError>, SourceError> => {
  switch (setting._tag) {
    case "simulator":
      return Effect.succeed(simulator(config))
    case "coingecko":
      return Effect.succeed(CoinGecko.stream(CoinGecko.optionsFromConfig(config)))
    case "auto":
      return auto(config)
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
  lastIds: ReadonlyMap<Market, LastId> = new Map()
): Effect.Effect<Stream.Stream<SourceRecord, SourceError>, SourceError> =>
  Effect.forEach(config.sources, (setting) => open(config, setting, lastIds)).pipe(
    Effect.map((streams) =>
      streams.length === 1
        ? (streams[0] as Stream.Stream<SourceRecord, SourceError>)
        : Stream.mergeAll(streams, { concurrency: "unbounded" })
    )
  )
