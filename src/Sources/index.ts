import { Effect, Option, Stream } from "effect"
import type { SourceConfig } from "../Config.js"
import type { Tick } from "../Domain/Tick.js"
import * as Simulator from "./Simulator.js"
import { SourceError } from "./Source.js"

/** The configured source as one stream of ticks. */
export const fromConfig = (config: SourceConfig): Effect.Effect<Stream.Stream<Tick, SourceError>, SourceError> => {
  const simulator = () =>
    Simulator.stream({
      coins: config.coins,
      rate: config.simulatorRate,
      seed: Option.getOrElse(config.simulatorSeed, () => Date.now())
    })
  switch (config.source._tag) {
    case "simulator":
      return Effect.succeed(simulator())
    case "auto":
      // CoinGecko joins `auto` with the CoinGecko source; until then auto means the (labelled) simulator.
      return Effect.as(Effect.logInfo("SOURCE=auto: using the simulator (ticks are labelled source=simulator)"), simulator())
    case "coingecko":
    case "replay":
      return Effect.fail(
        new SourceError({
          source: config.source._tag,
          reason: "not-implemented",
          message: `SOURCE=${config.source._tag} is not implemented yet; use SOURCE=simulator or auto`
        })
      )
  }
}
