import { Config, ConfigError, Data, Duration, Effect, Either, Option, Redacted } from "effect"
import { DataConfig } from "./Config/Data.js"
import { HttpConfig } from "./Config/Http.js"
import { LogConfig } from "./Config/Log.js"
import { DefaultMarketsConfig, SourcesConfig } from "./Config/Sources.js"
import { TickStorageConfig } from "./Config/Storage.js"
import { isCoinId } from "./Sources/Coins.js"

export { DataConfig } from "./Config/Data.js"
export { HttpConfig, LimitsConfig, SseConfig } from "./Config/Http.js"
export { defaultLog, LogConfig } from "./Config/Log.js"
export {
  DefaultMarketsConfig,
  defaultVenueMarkets,
  type SourceSetting,
  type TradeVenue,
  tradeVenues,
  venuesOf,
  venueUrlDefaults
} from "./Config/Sources.js"
export { defaultTickStorage, type TickStorage, TickStorageConfig } from "./Config/Storage.js"

/** The command cannot run as configured (exit code 2). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** Default CoinGecko ids: a top-10 list without stablecoins' twins. */
export const defaultCoins = [
  "bitcoin",
  "ethereum",
  "tether",
  "binancecoin",
  "ripple",
  "usd-coin",
  "cardano",
  "stellar",
  "chainlink",
  "litecoin"
] as const

const coins = Config.string("COINS").pipe(
  Config.withDefault(defaultCoins.join(",")),
  Config.mapOrFail((raw) => {
    const ids = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
    return ids.length > 0 && ids.every(isCoinId)
      ? Either.right(ids)
      : Either.left(
          ConfigError.InvalidData(
            ["COINS"],
            `expected comma-separated CoinGecko ids like "bitcoin,ethereum", got "${raw}"`
          )
        )
  })
)

const positiveDuration = (name: string, fallback: string) =>
  // Validated before the default is attached: the other order loses the variable's name in the error.
  Config.duration(name).pipe(
    Config.validate({
      message: `expected a positive duration such as "${fallback}"`,
      validation: (d) => Duration.toMillis(d) > 0
    }),
    Config.withDefault(Duration.decode(fallback as Duration.DurationInput))
  )

const positiveInt = (name: string, fallback: number, max = 1_000_000) =>
  Config.integer(name).pipe(
    Config.validate({ message: `expected an integer between 1 and ${max}`, validation: (n) => n >= 1 && n <= max }),
    Config.withDefault(fallback)
  )

const optionalUrl = (name: string) =>
  Config.redacted(name).pipe(Config.option, Config.map(Option.filter((r) => Redacted.value(r).trim().length > 0)))

/** Where the bus, the cache and the database live; unset means the embedded adapter. */
export const InfraConfig = Config.all({
  kafkaBrokers: Config.string("KAFKA_BROKERS").pipe(
    Config.option,
    Config.map(
      Option.map((s) =>
        s
          .split(",")
          .map((b) => b.trim())
          .filter((b) => b.length > 0)
      )
    ),
    Config.map(Option.filter((bs) => bs.length > 0))
  ),
  redisUrl: optionalUrl("REDIS_URL"),
  databaseUrl: optionalUrl("DATABASE_URL")
})
export type InfraConfig = Config.Config.Success<typeof InfraConfig>

export const TopicConfig = Config.all({
  topic: Config.string("KAFKA_TOPIC").pipe(Config.withDefault("crypto-prices")),
  partitions: positiveInt("KAFKA_PARTITIONS", 3, 1000)
})
export type TopicConfig = Config.Config.Success<typeof TopicConfig>

/** The roots of CoinGecko's two plans; keyless requests use the demo (public) root. */
export const coingeckoBaseUrls = {
  demo: "https://api.coingecko.com/api/v3",
  pro: "https://pro-api.coingecko.com/api/v3"
} as const
export type CoinGeckoPlan = keyof typeof coingeckoBaseUrls

const coingeckoPlan = Config.string("COINGECKO_PLAN").pipe(
  Config.withDefault("demo"),
  Config.mapOrFail((raw): Either.Either<CoinGeckoPlan, ConfigError.ConfigError> => {
    const value = raw.trim().toLowerCase()
    return value === "demo" || value === "pro"
      ? Either.right(value)
      : Either.left(ConfigError.InvalidData(["COINGECKO_PLAN"], `expected demo or pro, got "${raw}"`))
  })
)

const coingeckoBaseUrl = Config.string("COINGECKO_BASE_URL").pipe(
  Config.option,
  Config.mapOrFail((raw) => {
    const value = Option.filter(
      Option.map(raw, (s) => s.trim()),
      (s) => s.length > 0
    )
    if (Option.isNone(value)) return Either.right(Option.none<string>())
    try {
      const url = new URL(value.value)
      if (url.protocol === "http:" || url.protocol === "https:")
        return Either.right(Option.some(value.value.replace(/\/+$/, "")))
    } catch {
      // reported below
    }
    return Either.left(
      ConfigError.InvalidData(
        ["COINGECKO_BASE_URL"],
        `expected an http(s) URL such as "${coingeckoBaseUrls.demo}", got "${value.value}"`
      )
    )
  })
)

/** CoinGecko: plan, root, key (never logged), timeouts and the monthly call budget to warn against. */
export const CoinGeckoConfig = Config.all({
  plan: coingeckoPlan,
  baseUrl: coingeckoBaseUrl,
  apiKey: Config.redacted("COINGECKO_API_KEY").pipe(
    Config.option,
    Config.map(Option.filter((r) => Redacted.value(r).trim().length > 0))
  ),
  timeout: positiveDuration("COINGECKO_TIMEOUT", "10 seconds"),
  probeTimeout: positiveDuration("COINGECKO_PROBE_TIMEOUT", "3 seconds"),
  monthlyBudget: positiveInt("COINGECKO_MONTHLY_BUDGET", 10_000, 1_000_000_000)
}).pipe(
  Config.map(({ baseUrl, ...rest }) => ({
    ...rest,
    baseUrl: Option.getOrElse(baseUrl, () => coingeckoBaseUrls[rest.plan])
  }))
)
export type CoinGeckoConfig = Config.Config.Success<typeof CoinGeckoConfig>

/** Replay pace: a factor on the recorded pace, or "max" (as fast as the bus takes them). */
export type ReplaySpeed = number | "max"

export const parseReplaySpeed = (raw: string): Either.Either<ReplaySpeed, string> => {
  const value = raw.trim().toLowerCase().replace(/^x/, "")
  if (value === "max") return Either.right("max")
  const n = value.length > 0 ? Number(value) : Number.NaN
  if (Number.isFinite(n) && n === 0) return Either.right("max")
  if (Number.isFinite(n) && n > 0) return Either.right(n)
  return Either.left(
    `expected a positive factor such as 1, 60 or 0.5, or 0 / max for as fast as possible, got "${raw}"`
  )
}

export const ReplayConfig = Config.all({
  speed: Config.string("REPLAY_SPEED").pipe(
    Config.withDefault("1"),
    Config.mapOrFail((raw) =>
      Either.mapLeft(parseReplaySpeed(raw), (m) => ConfigError.InvalidData(["REPLAY_SPEED"], m))
    )
  ),
  /** Coin id for a single market_chart file whose name is not the coin id. */
  coin: Config.string("REPLAY_COIN").pipe(
    Config.mapOrFail((raw) =>
      isCoinId(raw.trim())
        ? Either.right(raw.trim())
        : Either.left(ConfigError.InvalidData(["REPLAY_COIN"], `expected a CoinGecko id like "bitcoin", got "${raw}"`))
    ),
    Config.option
  )
})
export type ReplayConfig = Config.Config.Success<typeof ReplayConfig>

/** SOURCE (a list), MARKETS checked against it, the venues' URLs, RECORD_FRAMES, and each sample source's settings. */
export const SourceConfig = Config.all({
  selection: SourcesConfig,
  coins,
  pollInterval: positiveDuration("POLL_INTERVAL", "30 seconds"),
  /** Simulator ticks per coin per second. */
  simulatorRate: Config.number("SIMULATOR_RATE").pipe(
    Config.validate({
      message: "expected a number of ticks per coin per second in (0, 1000]",
      validation: (n) => n > 0 && n <= 1000
    }),
    Config.withDefault(1)
  ),
  simulatorSeed: Config.integer("SIMULATOR_SEED").pipe(Config.option),
  /** On a fresh topic the simulator first publishes a day of history, and SOURCE=coingecko first backfills one. */
  history: Config.boolean("HISTORY").pipe(Config.withDefault(true)),
  coingecko: CoinGeckoConfig,
  replay: ReplayConfig
}).pipe(Config.map(({ selection, ...rest }) => ({ ...selection, ...rest })))
export type SourceConfig = Config.Config.Success<typeof SourceConfig>

export const ProcessorConfig = Config.all({
  checkpointInterval: positiveDuration("CHECKPOINT_INTERVAL", "5 seconds"),
  batchSize: positiveInt("BATCH_SIZE", 100),
  /** Ticks processed but not yet checkpointed before consumption pauses (while Postgres is slow or down). */
  maxPendingTicks: positiveInt("MAX_PENDING_TICKS", 20_000, 10_000_000),
  allowedLateness: Config.duration("ALLOWED_LATENESS").pipe(Config.withDefault(Duration.minutes(2))),
  /** How far a tick's event time may be ahead of the time its record was appended to the bus. */
  maxFutureSkew: Config.duration("MAX_FUTURE_SKEW").pipe(Config.withDefault(Duration.minutes(5))),
  latestTtl: positiveDuration("LATEST_TTL", "45 seconds"),
  /** Longest wait between retries of Postgres and the DLQ (the backoff starts at 200 ms, or at this if it is shorter). */
  retryMaxDelay: positiveDuration("RETRY_MAX_DELAY", "10 seconds"),
  groupId: Config.string("KAFKA_GROUP_ID").pipe(Config.withDefault("crypto-processor"))
})
export type ProcessorConfig = Config.Config.Success<typeof ProcessorConfig>

/** The producer stage: ticks accepted from the source but not yet acknowledged by the bus, at most. */
export const ProducerConfig = Config.all({
  bufferSize: positiveInt("PRODUCER_BUFFER", 10_000, 10_000_000),
  /** `producer` or `processor` alone: /health, /ready, /metrics on this port (unset: none; `service` has its own). */
  statusPort: Config.integer("STATUS_PORT").pipe(
    Config.validate({ message: "expected a TCP port from 1 to 65535", validation: (n) => n >= 1 && n <= 65_535 }),
    Config.option
  )
})
export type ProducerConfig = Config.Config.Success<typeof ProducerConfig>

/** Everything, read once at start-up so a bad value stops the process before anything starts. */
export const AppConfig = Config.all({
  infra: InfraConfig,
  data: DataConfig,
  topic: TopicConfig,
  source: SourceConfig,
  processor: ProcessorConfig,
  http: HttpConfig,
  producer: ProducerConfig,
  log: LogConfig,
  defaultMarkets: DefaultMarketsConfig,
  storage: TickStorageConfig
})
export type AppConfig = Config.Config.Success<typeof AppConfig>

/** One line per problem, naming the variable and the expected form. */
export const describeConfigError = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    orCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    invalidDataCase: (_, path, message) => [`invalid ${path.join("_")}: ${message}`],
    missingDataCase: (_, path, message) => [`missing ${path.join("_")}: ${message}`],
    sourceUnavailableCase: (_, path, message) => [`cannot read ${path.join("_")}: ${message}`],
    unsupportedCase: (_, path, message) => [`unsupported ${path.join("_")}: ${message}`]
  })

/** Every setting, read once at start-up: a bad value stops it with one line naming each problem (exit code 2). */
export const load = AppConfig.pipe(
  Effect.mapError((e) => new UsageError({ message: describeConfigError(e).join("\n") }))
)
