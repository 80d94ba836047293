#!/usr/bin/env node
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Config, ConfigError, Console, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import { AppConfig, describeConfigError } from "./Config.js"
import * as Server from "./Http/Server.js"
import * as Infra from "./Infra.js"
import { UsageError } from "./Infra.js"
import * as Processor from "./Processor.js"
import * as Producer from "./Producer.js"

const version = "0.1.0"

/** Reads every setting once, up front: a bad value stops start-up with one line naming it. */
const loadConfig = AppConfig.pipe(
  Effect.mapError((e) => new UsageError({ message: describeConfigError(e).join("\n") }))
)

const logLevel = Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))

const withLogging = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.orElseSucceed(logLevel, () => LogLevel.Info), (level) => Logger.withMinimumLogLevel(effect, level))

const service = Command.make("service", {}, () =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    const infra = Layer.mergeAll(Infra.bus(config), Infra.cache(config), Infra.store(config))
    const app = Layer.mergeAll(infra, Infra.liveFeed.pipe(Layer.provide(infra)))
    yield* Effect.all([Producer.run, Processor.run, Layer.launch(Server.layer(config.http))], { concurrency: "unbounded" }).pipe(
      Effect.provide(app),
      Effect.scoped
    )
  })
).pipe(Command.withDescription(
  "Run the whole pipeline in one process: source → bus → processor → Postgres + cache, and the HTTP API and dashboard. " +
  "With KAFKA_BROKERS, REDIS_URL and DATABASE_URL unset it runs on embedded adapters."
))

const producer = Command.make("producer", {}, () =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "producer", ["KAFKA_BROKERS"])
    yield* Producer.run.pipe(Effect.provide(Infra.bus(config)))
  })
).pipe(Command.withDescription("Poll the configured SOURCE and publish ticks to the Kafka topic (key = symbol). Needs KAFKA_BROKERS."))

const processor = Command.make("processor", {}, () =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "processor", ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"])
    yield* Processor.run.pipe(
      Effect.provide(Layer.mergeAll(Infra.bus(config), Infra.cache(config), Infra.store(config))),
      Effect.scoped
    )
  })
).pipe(Command.withDescription(
  "Consume ticks, build candles and indicators, write Postgres exactly-once with checkpoints and the cache best-effort. " +
  "Needs KAFKA_BROKERS, REDIS_URL and DATABASE_URL."
))

const api = Command.make("api", {}, () =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    yield* Infra.requireShared(config, "api", ["REDIS_URL", "DATABASE_URL"])
    const infra = Layer.mergeAll(Infra.cache(config), Infra.store(config))
    yield* Layer.launch(Server.layer(config.http)).pipe(
      Effect.provide(Layer.mergeAll(infra, Infra.liveFeed.pipe(Layer.provide(infra))))
    )
  })
).pipe(Command.withDescription("Serve the REST API, the SSE feed and the dashboard. Needs REDIS_URL and DATABASE_URL."))

const migrate = Command.make("migrate", {}, () =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    if (Option.isNone(config.infra.databaseUrl)) {
      return yield* new UsageError({ message: "migrate needs DATABASE_URL (the embedded database is migrated by `service` itself)" })
    }
    yield* Layer.build(Infra.store(config)).pipe(Effect.scoped)
    yield* Console.log("migrations applied")
  })
).pipe(Command.withDescription("Apply the database migrations to DATABASE_URL and exit."))

const backfill = Command.make("backfill", {}, () =>
  new UsageError({ message: "backfill is not implemented yet: it arrives with the CoinGecko source (see the README's roadmap)" })
).pipe(Command.withDescription("Fetch price history from CoinGecko and publish it through the topic. Not implemented yet."))

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

cli(process.argv).pipe(
  Effect.tapErrorCause((cause) =>
    Option.match(Cause.failureOption(cause), {
      onSome: (e) => e instanceof UsageError ? Console.error(`error: ${e.message}`) : Effect.logError(cause),
      onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(cause)
    })
  ),
  withLogging,
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: (exit, onExit) => onExit(exitCode(exit)) })
)
