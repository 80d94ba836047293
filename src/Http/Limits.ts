import { HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import type { LimitsConfig } from "../Config/Http.js"

/**
 * 429 with Retry-After once an address has used its bucket. The SSE feed is left out: it is one long request,
 * held to its own connection caps. Buckets idle for a minute are forgotten, so memory stays bounded by active clients.
 */
export const rateLimit = (config: LimitsConfig) => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  let sweptAt = Date.now()
  return HttpMiddleware.make((app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!request.url.startsWith("/api/") || request.url.startsWith("/api/events")) return yield* app
      const now = Date.now()
      if (now - sweptAt > 60_000) {
        for (const [key, b] of buckets) if (now - b.at > 60_000) buckets.delete(key)
        sweptAt = now
      }
      const key = Option.getOrElse(request.remoteAddress, () => "unknown")
      const b = buckets.get(key) ?? { tokens: config.burst, at: now }
      b.tokens = Math.min(config.burst, b.tokens + ((now - b.at) / 1000) * config.rate)
      b.at = now
      buckets.set(key, b)
      if (b.tokens < 1) {
        const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / config.rate))
        return HttpServerResponse.unsafeJson(
          {
            error: "rate limit exceeded",
            details: { limit: `${config.rate}/s, burst ${config.burst}`, retryAfterSeconds: retryAfter }
          },
          { status: 429, headers: { "retry-after": String(retryAfter) } }
        )
      }
      b.tokens -= 1
      return yield* app
    })
  )
}

/** CORS only for the configured origins. */
export const cors = (config: LimitsConfig) =>
  config.corsOrigins.length === 0
    ? HttpMiddleware.make((app) => app)
    : HttpMiddleware.cors({
        allowedOrigins: config.corsOrigins,
        allowedMethods: ["GET", "HEAD", "OPTIONS"],
        allowedHeaders: ["authorization", "last-event-id"]
      })
