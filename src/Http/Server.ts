import { createServer, type Server } from "node:http"
import {
  HttpApiBuilder,
  HttpApiSwagger,
  HttpApp,
  HttpMiddleware,
  HttpServer,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, FiberRef, Layer, LogLevel } from "effect"
import type { AppConfig } from "../Config.js"
import { Api } from "./Api.js"
import { DashboardRoutes } from "./Dashboard.js"
import * as Handlers from "./Handlers.js"
import * as HotRoutes from "./HotRoutes.js"
import { securityHeaders } from "./HotRoutes.js"
import { cors, type Limiter, limiter, rateLimit } from "./Limits.js"
import * as LiveFeed from "./LiveFeed.js"
import * as Markets from "./Markets.js"
import { MetricsRoutes, requestMetrics } from "./Metrics.js"
import { SseRoutes } from "./Sse.js"

const shapeResponse = (request: HttpServerRequest.HttpServerRequest, res: HttpServerResponse.HttpServerResponse) => {
  let out = res
  // A route's own bare 404 (a missing static file): every error here is JSON.
  if (res.status === 404 && res.body._tag === "Empty")
    out = HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })
  if (res.status === 503) out = HttpServerResponse.setHeader(out, "retry-after", "5")
  // Swagger UI at /docs ships inline scripts and styles; everything else is held to 'self' (HotRoutes.ts).
  const { "content-security-policy": csp, ...basic } = securityHeaders
  return Effect.succeed(
    HttpServerResponse.setHeaders(
      out,
      request.url.startsWith("/docs") ? basic : { ...basic, "content-security-policy": csp }
    )
  )
}

/** 503s get Retry-After, and every response gets the basic security headers. */
const responses = HttpMiddleware.make((app) => Effect.zipRight(HttpApp.appendPreResponseHandler(shapeResponse), app))

/**
 * The access log: a line per response, at a level by its outcome. A 5xx with a cause is an Error with that cause; any
 * other 4xx or 5xx is Info; a success (2xx, 3xx: the dashboard's own polling, mostly) is Debug, so the default level
 * shows what went wrong and LOG_LEVEL=debug shows every request. In place of HttpMiddleware.logger, which logs
 * failures at Info too and pays for a log span and annotations on every request even when the line is dropped.
 */
export const accessLog = (minimum: LogLevel.LogLevel) => {
  const successes = LogLevel.lessThanEqual(minimum, LogLevel.Debug)
  const refusals = LogLevel.lessThanEqual(minimum, LogLevel.Info)
  return HttpMiddleware.make((app) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.flatMap(Effect.exit(app), (exit) => {
        const [response, cause] =
          exit._tag === "Success" ? [exit.value, undefined] : HttpServerError.causeResponseStripped(exit.cause)
        const status = response.status
        const annotations = () => ({ "http.method": request.method, "http.url": request.url, "http.status": status })
        if (status >= 500 && cause !== undefined && cause._tag === "Some") {
          return Effect.zipRight(
            Effect.annotateLogs(Effect.logError("HTTP request failed", cause.value), annotations()),
            exit
          )
        }
        if (status >= 400 ? refusals : successes) {
          const line = status >= 400 ? Effect.logInfo("Sent HTTP error") : Effect.logDebug("Sent HTTP response")
          return Effect.zipRight(Effect.annotateLogs(line, annotations()), exit)
        }
        return exit
      })
    )
  )
}

/**
 * Ends SSE streams before the server closes (it waits for open connections, and SSE ones never end
 * by themselves), then cuts whatever is still open after a short grace so shutdown stays bounded.
 */
const closeStreams = (server: Server) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const feed = yield* LiveFeed.LiveFeed
      yield* HttpServer.HttpServer
      yield* Effect.addFinalizer(() =>
        feed.close.pipe(
          Effect.zipRight(Effect.sleep("250 millis")),
          Effect.zipRight(Effect.sync(() => server.closeAllConnections()))
        )
      )
    })
  )

/** GET /api/latest and /api/candles/:symbol straight from node:http (HotRoutes.ts), from when they are built. */
const hotRoutes = (server: Server, buckets: Limiter) => {
  const take = HotRoutes.intercept(server)
  return Layer.effectDiscard(Effect.map(HotRoutes.make, (hot) => take.set(HotRoutes.handler(hot, buckets))))
}

/** The HTTP server as configured: the API, SSE, the dashboard and /metrics, behind the limits and the access log. */
export const layer = (config: AppConfig) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const { port, host, sse, limits, adminApiKey, defaultMarkets } = config.http
      // One resolver for the API and the hot routes, so a bare symbol means the same market on both.
      const markets = Markets.layer(defaultMarkets)
      const api = HttpApiBuilder.api(Api).pipe(
        Layer.provide(Handlers.layer({ topic: config.topic.topic, adminApiKey, defaultMarkets }, markets))
      )
      const server = createServer()
      const minimum = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
      const log = accessLog(minimum)
      const buckets = limiter(limits)
      // The hot routes answer what the full path would (HotRoutes.ts), except what they leave out: CORS headers and the
      // access log's line per success. With either configured, everything takes the full path.
      const hot = limits.corsOrigins.length === 0 && !LogLevel.lessThanEqual(minimum, LogLevel.Debug)
      return Layer.mergeAll(
        HttpApiBuilder.serve((app) =>
          responses(log(requestMetrics(cors(limits)(rateLimit(limits, buckets)(app)))))
        ).pipe(
          Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
          Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
          Layer.provide(SseRoutes(sse)),
          Layer.provide(DashboardRoutes),
          Layer.provide(MetricsRoutes),
          Layer.provide(api),
          HttpServer.withLogAddress,
          // A span per request costs a URL parse, header redaction and attributes, and this app exports no traces.
          HttpMiddleware.withTracerDisabledWhen(() => true)
        ),
        closeStreams(server),
        hot ? hotRoutes(server, buckets).pipe(Layer.provide(markets)) : Layer.empty
      ).pipe(
        Layer.provide(NodeHttpServer.layer(() => server, { port, host })),
        // The live feed is the server's own: SSE streams read it, and it closes after them.
        Layer.provide(LiveFeed.layer)
      )
    })
  )
