import { Data, type Duration, Effect, Metric } from "effect"
import { SourceError } from "../Source.js"
import { errorsCounter, metrics } from "./Metrics.js"

/** What a request is counted and reported as; `coins/market_chart` stands for `/coins/{id}/market_chart`. */
export type Endpoint = "simple/price" | "coins/markets" | "ping" | "coins/market_chart"

/** One failed request, with what retrying needs to know. `toSourceError` is what the stream fails with. */
export class CoinGeckoError extends Data.TaggedError("CoinGeckoError")<{
  readonly reason: "unavailable" | "rate-limited" | "bad-response" | "timeout" | "unauthorized" | "rejected"
  readonly endpoint: Endpoint
  readonly message: string
  readonly status?: number
  /** From the Retry-After header (seconds or an HTTP date). */
  readonly retryAfter?: Duration.Duration
  /** The start of a body that was not what we asked for (e.g. a CDN's HTML page). */
  readonly excerpt?: string
}> {
  /** Unauthorized and other 4xx answers will not change by asking again. */
  get retryable(): boolean {
    return this.reason !== "unauthorized" && this.reason !== "rejected"
  }

  toSourceError(): SourceError {
    return new SourceError({ source: "coingecko", reason: this.reason, message: this.message, cause: this })
  }
}

/** Counts a failed request by its reason (and a 429 once more, as rate-limited). */
export const countError = (error: CoinGeckoError): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(errorsCounter(error.reason)),
    error.reason === "rate-limited" ? Metric.increment(metrics.rateLimited) : Effect.void
  )

/** `error`, counted, as a failure. */
export const failCounted = (error: CoinGeckoError): Effect.Effect<never, CoinGeckoError> =>
  Effect.zipRight(countError(error), Effect.fail(error))
