import { Metric } from "effect"
import type { Endpoint } from "./Errors.js"

/** What the CoinGecko source counts (the names are public: /metrics). */
export const metrics = {
  requests: Metric.counter("coingecko_requests_total", {
    description: "HTTP requests sent to CoinGecko (tag endpoint)",
    incremental: true
  }),
  errors: Metric.counter("coingecko_errors_total", {
    description:
      "Failed CoinGecko requests by kind (unavailable, rate-limited, bad-response, timeout, unauthorized, rejected), " +
      "and coins left out of an answer (missing-coin, bad-quote)",
    incremental: true
  }),
  rateLimited: Metric.counter("coingecko_rate_limited_total", {
    description: "CoinGecko answers with HTTP 429",
    incremental: true
  }),
  unchanged: Metric.counter("coingecko_unchanged_total", {
    description: "Coin quotes not published because last_updated_at did not advance (CoinGecko's cache)",
    incremental: true
  }),
  ticks: Metric.counter("coingecko_ticks_total", {
    description: "Ticks emitted by the CoinGecko source",
    incremental: true
  }),
  lastSuccess: Metric.gauge("coingecko_last_success_timestamp_seconds", {
    description: "When CoinGecko last gave a good answer (Unix seconds)"
  })
}

export const requestsCounter = (endpoint: Endpoint) => Metric.tagged(metrics.requests, "endpoint", endpoint)
export const errorsCounter = (kind: string) => Metric.tagged(metrics.errors, "kind", kind)
