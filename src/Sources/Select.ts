import { Effect, Either, Option, type Stream } from "effect"
import type { SourceConfig } from "../Config.js"
import type { Tick } from "../Domain/Tick.js"
import * as CoinGecko from "./CoinGecko.js"
import * as Replay from "./Replay.js"
import * as Simulator from "./Simulator.js"
import type { SourceError } from "./Source.js"

/** SOURCE → the stream of ticks: coingecko, simulator, replay:<file>, or auto (CoinGecko when it answers). */

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

/** The configured source as one stream of ticks. */
export const fromConfig = (config: SourceConfig): Effect.Effect<Stream.Stream<Tick, SourceError>, SourceError> => {
  switch (config.source._tag) {
    case "simulator":
      return Effect.succeed(simulator(config))
    case "coingecko":
      return Effect.succeed(CoinGecko.stream(CoinGecko.optionsFromConfig(config)))
    case "auto":
      return auto(config)
    case "replay":
      return Replay.open(Replay.optionsFromConfig(config.source.file, config))
  }
}
