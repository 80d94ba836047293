#!/usr/bin/env node
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Console, Context, Duration, Effect, Either, Exit, Layer, Logger, Option } from "effect"
import * as Backfill from "./Backfill.js"
import { retentionWarning } from "./Config/Storage.js"
import * as Config from "./Config.js"
import { type AppConfig, defaultLog, type LogConfig, UsageError } from "./Config.js"
import * as Server from "./Http/Server.js"
import * as Infra from "./Infra.js"
import * as Processor from "./Processor.js"
import * as CoinGeckoDay from "./Producer/CoinGeckoDay.js"
import * as Producer from "./Producer.js"
import * as CoinGecko from "./Sources/CoinGecko.js"
import { isCoinId } from "./Sources/Coins.js"
import * as VenueStatus from "./Sources/Status.js"

const version = "0.1.0"

const sourcesHelp =
  "SOURCE is a comma list of auto, coingecko, simulator, binance, coinbase, kraken and replay:<path> (a tick file or " +
  "directory, or a RECORD_FRAMES recording), each its own stream, e.g. SOURCE=binance,coinbase,kraken. " +
  "MARKETS: the venues' markets, e.g. binance:BTC-USDT,coinbase:BTC-USD,kraken:BTC-USD (default: ten per venue source). " +
  "BINANCE_WS_URL, BINANCE_REST_URL, COINBASE_WS_URL, COINBASE_REST_URL, KRAKEN_WS_URL, KRAKEN_REST_URL: the venues' " +
  "base URLs (default: their public endpoints). RECORD_FRAMES=<dir> records every venue frame to <dir>/<venue>.jsonl; " +
  "REPLAY_SPEED paces a replay (1 = as recorded, max = as fast as possible). DEFAULT_MARKETS: the market a bare " +
  "symbol (BTC) in a URL means first."

/** The configuration, read once before the command line is parsed: each command takes it, or fails with its UsageError. */
class LoadedConfig extends Context.Tag("app/LoadedConfig")<LoadedConfig, Either.Either<AppConfig, UsageError>>() {}

const loadConfig = Effect.flatMap(LoadedConfig, (loaded) => loaded)

const withLogging =
  (log: LogConfig) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) => {
    const logger = log.format === "json" ? Logger.withConsoleLog(Logger.jsonLogger) : Logger.prettyLogger()
    return effect.pipe(
      Logger.withMinimumLogLevel(log.level),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  }

const service = Command.make("service", {}, () =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    // /ready lists the venue connections this process runs (none unless SOURCE names a venue).
    const app = Layer.mergeAll(
      Infra.bus(config),
      Infra.cache(config),
      Infra.store(config),
      VenueStatus.connectionsLayer
    )
    yield* Effect.all(
      [
        Effect.zipRight(CoinGeckoDay.backfillIfEmpty(config), Producer.runWith(config)),
        Processor.runWith(config),
        Layer.launch(Server.layer(config))
      ],
      {
        concurrency: "unbounded"
      }
    ).pipe(Effect.provide(app), Effect.scoped)
  })
).pipe(
  Command.withDescription(
    "Run the whole pipeline in one process: source → bus → processor → Postgres + cache, and the HTTP API and dashboard. " +
      "With KAFKA_BROKERS, REDIS_URL and DATABASE_URL unset it runs on embedded adapters. " +
      sourcesHelp
  )
)

const producer = Command.make("producer", {}, () =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "producer", ["KAFKA_BROKERS"])
    yield* Effect.gen(function* () {
      yield* Infra.serveStatus(config)
      yield* Producer.runWith(config)
    }).pipe(Effect.scoped, Effect.provide(Infra.bus(config)))
  })
).pipe(
  Command.withDescription(
    "Run the configured SOURCE and publish its records to the Kafka topic (key = market). Needs KAFKA_BROKERS. " +
      "While Kafka is away up to PRODUCER_BUFFER records wait in memory; then the sources are not pulled until Kafka takes them again. " +
      sourcesHelp +
      " STATUS_PORT=<port> serves /health, /ready (the bus and each venue connection) and /metrics."
  )
)

const processor = Command.make("processor", {}, () =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "processor", ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"])
    yield* Effect.gen(function* () {
      // Alone it has no HTTP API: STATUS_PORT is where its metrics (lag, checkpoints, DLQ) can be scraped.
      yield* Infra.serveStatus(config)
      yield* Processor.runWith(config)
    }).pipe(Effect.provide(Layer.mergeAll(Infra.bus(config), Infra.cache(config), Infra.store(config))), Effect.scoped)
  })
).pipe(
  Command.withDescription(
    "Consume ticks, build candles and indicators, write Postgres exactly-once with checkpoints and the cache best-effort. " +
      "Needs KAFKA_BROKERS, REDIS_URL and DATABASE_URL. STATUS_PORT=<port> serves /health, /ready (the bus) and /metrics."
  )
)

const api = Command.make("api", {}, () =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "api", ["REDIS_URL", "DATABASE_URL"])
    yield* Layer.launch(Server.layer(config)).pipe(
      Effect.provide(Layer.mergeAll(Infra.cache(config), Infra.store(config)))
    )
  })
).pipe(Command.withDescription("Serve the REST API, the SSE feed and the dashboard. Needs REDIS_URL and DATABASE_URL."))

const migrate = Command.make("migrate", {}, () =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    if (Option.isNone(config.infra.databaseUrl)) {
      return yield* new UsageError({
        message: "migrate needs DATABASE_URL (the embedded database is migrated by `service` itself)"
      })
    }
    yield* Layer.build(Infra.store(config)).pipe(Effect.scoped)
    yield* Console.log("migrations applied")
  })
).pipe(Command.withDescription("Apply the database migrations to DATABASE_URL and exit."))

const backfillOptions = {
  coins: Options.text("coins").pipe(
    Options.withDescription(
      "Comma-separated CoinGecko ids, e.g. bitcoin,ethereum. Default: COINS (itself defaulting to the ten default coins)."
    ),
    Options.optional
  ),
  days: Options.integer("days").pipe(
    Options.withDefault(30),
    Options.withDescription(
      "Days of history (/coins/{id}/market_chart), default 30. CoinGecko picks the spacing: 1 day → 5-minutely, 2–90 → hourly, " +
        "more → daily at 00:00 UTC (the demo plan serves the past 365 days at most)."
    )
  ),
  republish: Options.boolean("republish").pipe(
    Options.withDescription(
      "Do not scan the topic first: publish every point even when the topic already holds the symbol up to a later time. " +
        "Harmless downstream (the processor drops the repeats as late or duplicate, the late ones into the DLQ)."
    )
  ),
  requestInterval: Options.text("request-interval").pipe(
    Options.withDescription(
      'Least time between two CoinGecko calls, e.g. "2 seconds". Default: 2 seconds on the demo plan, 200 millis on pro.'
    ),
    Options.optional
  )
}

const backfill = Command.make("backfill", backfillOptions, ({ coins, days, republish, requestInterval }) =>
  Effect.gen(function* () {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "backfill", ["KAFKA_BROKERS"])
    const ids = Option.match(coins, {
      onNone: () => config.source.coins,
      onSome: (raw) =>
        raw
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
    })
    const badId = ids.find((id) => !isCoinId(id))
    if (ids.length === 0 || badId !== undefined) {
      return yield* new UsageError({
        message: `--coins: expected comma-separated CoinGecko ids like "bitcoin,ethereum", got "${Option.getOrElse(coins, () => "")}"`
      })
    }
    if (days < 1 || days > 36_500)
      return yield* new UsageError({ message: `--days: expected a whole number of days from 1 to 36500, got ${days}` })
    const interval = Option.match(requestInterval, {
      onNone: () => Option.some(config.source.coingecko.plan === "pro" ? Duration.millis(200) : Duration.seconds(2)),
      onSome: (raw) => Duration.decodeUnknown(raw.trim())
    })
    if (Option.isNone(interval)) {
      return yield* new UsageError({
        message: `--request-interval: expected a duration such as "2 seconds", got "${Option.getOrElse(requestInterval, () => "")}"`
      })
    }
    yield* Option.match(retentionWarning(days, config.storage.retention), {
      onNone: () => Effect.void,
      onSome: (warning) => Console.error(warning)
    })
    const summary = yield* Backfill.run({
      client: CoinGecko.optionsFromConfig(config.source),
      coins: ids,
      days,
      topic: config.topic.topic,
      partitions: config.topic.partitions,
      republish,
      requestInterval: interval.value,
      bufferSize: config.producer.bufferSize
    }).pipe(
      Effect.tapError((e) => (e._tag === "BackfillError" ? Console.log(Backfill.describe(e.summary)) : Effect.void)),
      Effect.provide(Layer.merge(Infra.bus(config), NodeHttpClient.layerUndici))
    )
    yield* Console.log(Backfill.describe(summary))
  })
).pipe(
  Command.withDescription(
    "Fetch price history from CoinGecko (/coins/{id}/market_chart, one coin after the other, paced and retried on 429 with " +
      "Retry-After) and publish it to the topic (key = symbol, source coingecko, oldest first) so the processor makes candles of it. " +
      "Run it before the producer: the processor rejects ticks older than a symbol's newest one minus ALLOWED_LATENESS as late. " +
      "The topic is scanned first and only points newer than what it holds for each symbol are published, so an interrupted run " +
      "goes on where it stopped and a repeated run publishes nothing twice. Progress goes to stderr (a bar on a terminal). " +
      "On TimescaleDB the ticks' retention (TICK_RETENTION, default 90 days, off allowed) drops ticks by their EVENT time: " +
      "history older than that is stored and then deleted by the next retention run (its candles stay); a warning says so " +
      "when --days reaches past it. Needs KAFKA_BROKERS."
  )
)

const root = Command.make("crypto-pipeline").pipe(
  Command.withDescription("Real-time crypto prices: candles and indicators from a live feed, on Effect."),
  Command.withSubcommands([service, producer, processor, api, migrate, backfill])
)

const cli = Command.run(root, { name: "crypto-pipeline", version })

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  return Option.match(Cause.failureOption(exit.cause), {
    onNone: () => 1,
    onSome: (e) => (e instanceof UsageError || ConfigError.isConfigError(e) ? 2 : 1)
  })
}

/** A failure's one line: a usage error as `error: …` on stderr, anything else logged with its cause. */
const report = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.tapErrorCause(effect, (cause) =>
    Option.match(Cause.failureOption(cause), {
      onSome: (e) => (e instanceof UsageError ? Console.error(`error: ${e.message}`) : Effect.logError(cause)),
      onNone: () => (Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(cause))
    })
  )

Effect.gen(function* () {
  const loaded = yield* Effect.either(Config.load)
  const log = Either.match(loaded, { onLeft: () => defaultLog, onRight: (config) => config.log })
  return yield* cli(process.argv).pipe(report, Effect.provideService(LoadedConfig, loaded), withLogging(log))
}).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(exitCode(exit))
  })
)
