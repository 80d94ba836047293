import { Config } from "effect"
import { DefaultMarketsConfig } from "./Sources.js"

// Validated before it is named, so a bad value's error carries the variable's name ("invalid SSE_MAX_CLIENTS: …").
const atLeastOne = (name: string, fallback: number) =>
  Config.integer().pipe(
    Config.validate({ message: "expected a whole number of connections, at least 1", validation: (n) => n >= 1 }),
    Config.nested(name),
    Config.withDefault(fallback)
  )

/** Connection caps of GET /api/events. */
export const SseConfig = Config.all({
  /** Open SSE streams in this process, all clients together. */
  maxClients: atLeastOne("SSE_MAX_CLIENTS", 10_000),
  /** Open SSE streams from one remote address (the socket's peer: behind a proxy, that is the proxy). */
  maxPerAddress: atLeastOne("SSE_MAX_PER_ADDRESS", 50)
})
export type SseConfig = Config.Config.Success<typeof SseConfig>

/** Requests per second per address on /api/* (a token bucket: RATE_LIMIT_BURST at once, refilled at RATE_LIMIT a second). */
export const LimitsConfig = Config.all({
  rate: Config.number("RATE_LIMIT").pipe(
    Config.validate({ message: "expected requests per second per address, > 0", validation: (n) => n > 0 }),
    Config.withDefault(50)
  ),
  burst: Config.integer("RATE_LIMIT_BURST").pipe(
    Config.validate({ message: "expected an integer >= 1", validation: (n) => n >= 1 }),
    Config.withDefault(100)
  ),
  /** Origins allowed to call the API from a browser on another site; none by default (CORS off). */
  corsOrigins: Config.string("CORS_ORIGINS").pipe(
    Config.withDefault(""),
    Config.map((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o.length > 0)
    )
  )
})
export type LimitsConfig = Config.Config.Success<typeof LimitsConfig>

/** The HTTP server: where it listens, its limits, and the admin endpoints' key (unset: they are off). */
export const HttpConfig = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  sse: SseConfig,
  limits: LimitsConfig,
  adminApiKey: Config.redacted("ADMIN_API_KEY").pipe(Config.option),
  // The same setting and parser as AppConfig.defaultMarkets (src/Config/Sources.ts): one reading of DEFAULT_MARKETS.
  defaultMarkets: DefaultMarketsConfig
})
export type HttpConfig = Config.Config.Success<typeof HttpConfig>
