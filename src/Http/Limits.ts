import { HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import type { LimitsConfig } from "../Config/Http.js"

/**
 * Per-address token buckets: `take` spends a token, or says how long to wait for one. Buckets idle for a minute are
 * forgotten, so memory stays bounded by active clients. One per server: the hot routes (HotRoutes.ts) spend from the
 * same buckets as the middleware.
 */
export const limiter = (config: LimitsConfig) => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  let sweptAt = Date.now()
  return {
    /** undefined when a token was spent, else the seconds until there is one (none spent). */
    take: (key: string): number | undefined => {
      const now = Date.now()
      if (now - sweptAt > 60_000) {
        for (const [k, b] of buckets) if (now - b.at > 60_000) buckets.delete(k)
        sweptAt = now
      }
      const b = buckets.get(key) ?? { tokens: config.burst, at: now }
      b.tokens = Math.min(config.burst, b.tokens + ((now - b.at) / 1000) * config.rate)
      b.at = now
      buckets.set(key, b)
      if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / config.rate))
      b.tokens -= 1
      return undefined
    },
    /** Gives back a token `take` spent on a request that another path then answers (and spends its own). */
    refund: (key: string) => {
      const b = buckets.get(key)
      if (b !== undefined) b.tokens = Math.min(config.burst, b.tokens + 1)
    }
  }
}
export type Limiter = ReturnType<typeof limiter>

/**
 * 429 with Retry-After once an address has used its bucket. The SSE feed is left out: it is one long request, held
 * to its own connection caps.
 */
export const rateLimit = (config: LimitsConfig, buckets: Limiter = limiter(config)) =>
  HttpMiddleware.make((app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!request.url.startsWith("/api/") || request.url.startsWith("/api/events")) return yield* app
      const retryAfter = buckets.take(Option.getOrElse(request.remoteAddress, () => "unknown"))
      if (retryAfter !== undefined) {
        return HttpServerResponse.unsafeJson(
          {
            error: "rate limit exceeded",
            details: { limit: `${config.rate}/s, burst ${config.burst}`, retryAfterSeconds: retryAfter }
          },
          { status: 429, headers: { "retry-after": String(retryAfter) } }
        )
      }
      return yield* app
    })
  )

/** CORS only for the configured origins. */
export const cors = (config: LimitsConfig) =>
  config.corsOrigins.length === 0
    ? HttpMiddleware.make((app) => app)
    : HttpMiddleware.cors({
        allowedOrigins: config.corsOrigins,
        allowedMethods: ["GET", "HEAD", "OPTIONS"],
        allowedHeaders: ["authorization", "last-event-id"]
      })
