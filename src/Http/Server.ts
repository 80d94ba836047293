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
import { describeIssues } from "./Errors.js"
import * as Handlers from "./Handlers.js"
import { cors, rateLimit } from "./Limits.js"
import * as LiveFeed from "./LiveFeed.js"
import { MetricsRoutes, requestMetrics } from "./Metrics.js"
import { SseRoutes } from "./Sse.js"

const decoder = new TextDecoder()

const shapeResponse = (request: HttpServerRequest.HttpServerRequest, res: HttpServerResponse.HttpServerResponse) => {
  let out = res
  if (res.status === 400 && res.body._tag === "Uint8Array") {
    const body: unknown = JSON.parse(decoder.decode(res.body.body))
    if (typeof body === "object" && body !== null && "_tag" in body && body._tag === "HttpApiDecodeError") {
      const issues = "issues" in body && Array.isArray(body.issues) ? body.issues : []
      out = HttpServerResponse.unsafeJson({ error: describeIssues(issues), details: issues }, { status: 400 })
    }
  }
  // The router's own 404 has no body; every error here is JSON.
  if (res.status === 404 && res.body._tag === "Empty")
    out = HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })
  if (res.status === 503) out = HttpServerResponse.setHeader(out, "retry-after", "5")
  // Swagger UI at /docs ships inline scripts and styles; everything else is held to 'self'.
  const csp = request.url.startsWith("/docs")
    ? {}
    : {
        "content-security-policy":
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
          "connect-src 'self'; frame-ancestors 'none'"
      }
  return Effect.succeed(
    HttpServerResponse.setHeaders(out, {
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      ...csp
    })
  )
}

/**
 * Keeps every error in the documented shape { error, details }: HttpApi's own decode errors are
 * rewritten, 503s get Retry-After, and every response gets the basic security headers.
 */
const responses = HttpMiddleware.make((app) => Effect.zipRight(HttpApp.appendPreResponseHandler(shapeResponse), app))

/**
 * The access log: a line per response at Info, and every 5xx at Error with its cause. In place of HttpMiddleware.logger,
 * which logs failures at Info too (so a 500 was silent under LOG_LEVEL=warning) and pays for a log span and
 * annotations on every request even when Info lines are dropped (a sixth of a small request's time here).
 */
export const accessLog = (minimum: LogLevel.LogLevel) => {
  const lines = LogLevel.lessThanEqual(minimum, LogLevel.Info)
  return HttpMiddleware.make((app) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.flatMap(Effect.exit(app), (exit) => {
        const [response, cause] =
          exit._tag === "Success" ? [exit.value, undefined] : HttpServerError.causeResponseStripped(exit.cause)
        const annotations = { "http.method": request.method, "http.url": request.url, "http.status": response.status }
        if (response.status >= 500 && cause !== undefined && cause._tag === "Some") {
          return Effect.zipRight(
            Effect.annotateLogs(Effect.logError("HTTP request failed", cause.value), annotations),
            exit
          )
        }
        return lines
          ? Effect.zipRight(Effect.annotateLogs(Effect.logInfo("Sent HTTP response"), annotations), exit)
          : exit
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

/** The HTTP server as configured: the API, SSE, the dashboard and /metrics, behind the limits and the access log. */
export const layer = (config: AppConfig) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const { port, host, sse, limits, adminApiKey, defaultMarkets } = config.http
      const api = HttpApiBuilder.api(Api).pipe(
        Layer.provide(Handlers.layer({ topic: config.topic.topic, adminApiKey, defaultMarkets }))
      )
      const server = createServer()
      const log = accessLog(yield* FiberRef.get(FiberRef.currentMinimumLogLevel))
      return Layer.mergeAll(
        HttpApiBuilder.serve((app) => responses(log(requestMetrics(cors(limits)(rateLimit(limits)(app)))))).pipe(
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
        closeStreams(server)
      ).pipe(
        Layer.provide(NodeHttpServer.layer(() => server, { port, host })),
        // The live feed is the server's own: SSE streams read it, and it closes after them.
        Layer.provide(LiveFeed.layer)
      )
    })
  )
