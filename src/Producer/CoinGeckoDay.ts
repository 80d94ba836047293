import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Either } from "effect"
import * as Backfill from "../Backfill.js"
import { Bus } from "../Bus/Bus.js"
import type { AppConfig } from "../Config.js"
import * as CoinGecko from "../Sources/CoinGecko.js"
import * as HistoryProgress from "./HistoryProgress.js"

// `service` with SOURCE=coingecko (or auto, when CoinGecko answers its probe) on a topic that holds nothing yet: a day
// of CoinGecko history first (through the `backfill` code, so its pacing keeps within the free tier's rate limit), then
// the live polls, so the first screen has its SMA 50 and RSI. HISTORY=0 turns it off; a restart (the topic holds
// ticks) does not run it again.

/** market_chart with days=1 answers a point every 5 minutes: the estimate the progress starts from, settled at the end. */
const POINTS_PER_DAY = 289

/** Plain lines (no bar): `service`'s stderr is a log. */
const lines: Backfill.ProgressSink = { isTTY: false, write: (text) => process.stderr.write(text) }

export const backfillIfEmpty = (config: AppConfig) =>
  Effect.gen(function* () {
    const coingecko = config.source.sources.some((s) => s._tag === "coingecko")
    const auto = config.source.sources.some((s) => s._tag === "auto")
    if (!config.source.history || !(coingecko || auto)) return
    const bus = yield* Bus
    yield* bus.ensureTopic(config.topic.topic, config.topic.partitions)
    const ends = yield* bus.endOffsets(config.topic.topic)
    if ([...ends.values()].some((n) => n > 0)) return
    // SOURCE=auto (the default) decides on one /ping: the same probe here, so a user whose CoinGecko answers gets its
    // day of history too (one that falls back to the simulator gets the simulator's).
    if (!coingecko) {
      const options = CoinGecko.optionsFromConfig(config.source)
      const probe = yield* Effect.either(CoinGecko.probe({ ...options, timeout: config.source.coingecko.probeTimeout }))
      if (Either.isLeft(probe)) return
    }
    const coins = config.source.coins
    yield* Effect.logInfo(
      `producer: the topic is empty: first a day of CoinGecko history for ${coins.length} coins (HISTORY=0 turns this off)`
    )
    yield* HistoryProgress.start(coins.length * POINTS_PER_DAY, "a day of CoinGecko history (an estimate)")
    const summary = yield* Backfill.run({
      client: CoinGecko.optionsFromConfig(config.source),
      coins,
      days: 1,
      topic: config.topic.topic,
      partitions: config.topic.partitions,
      requestInterval: config.source.coingecko.plan === "pro" ? "200 millis" : "2 seconds",
      bufferSize: config.producer.bufferSize,
      progress: lines,
      onPublished: HistoryProgress.advance
    }).pipe(
      Effect.provide(NodeHttpClient.layerUndici),
      // Live prices matter more than the history: a failed backfill is said and the source goes live.
      Effect.catchAll((e) =>
        Effect.as(Effect.logWarning(`producer: the CoinGecko history failed (${e.message}); going live without it`), {
          published: 0
        })
      )
    )
    yield* HistoryProgress.settle(summary.published)
  }).pipe(Effect.annotateLogs({ stage: "producer" }))
