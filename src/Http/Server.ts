import { HttpApiBuilder, HttpApiSwagger, HttpApp, HttpMiddleware, HttpServer, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import type { HttpConfig } from "../Config.js"
import { Api } from "./Api.js"
import { DashboardRoutes } from "./Dashboard.js"
import { HandlersLive } from "./Handlers.js"
import { LiveFeed } from "./LiveFeed.js"
import { MetricsRoutes } from "./Metrics.js"
import { SseRoutes } from "./Sse.js"

const decoder = new TextDecoder()

/** "invalid interval: expected "1m" | "5m" | …, got "2m"": one phrase per parameter, from Schema's issues. */
const describeIssues = (issues: ReadonlyArray<unknown>): string => {
  const byParam = new Map<string, { expected: Set<string>; actual: string | undefined; other: Array<string> }>()
  for (const issue of issues) {
    if (typeof issue !== "object" || issue === null) continue
    const path = "path" in issue && Array.isArray(issue.path) ? issue.path.join(".") : ""
    const message = "message" in issue && typeof issue.message === "string" ? issue.message : ""
    const entry = byParam.get(path) ?? { expected: new Set<string>(), actual: undefined, other: [] }
    byParam.set(path, entry)
    const m = /^Expected (.*), actual (.*)$/s.exec(message)
    if (m === null) entry.other.push(message)
    else if (m[1] !== "undefined") {
      entry.expected.add(m[1]!)
      entry.actual = m[2]
    }
  }
  const parts = [...byParam].map(([param, e]) => {
    const what = e.expected.size > 0 ? `expected ${[...e.expected].join(" | ")}, got ${e.actual}` : e.other.join("; ")
    return `${param || "request"}: ${what}`
  })
  return parts.length === 0 ? "invalid request" : `invalid ${parts.join("; ")}`
}

const shapeResponse = (request: HttpServerRequest.HttpServerRequest, res: HttpServerResponse.HttpServerResponse) => {
  let out = res
  if (res.status === 400 && res.body._tag === "Uint8Array") {
    const body: unknown = JSON.parse(decoder.decode(res.body.body))
    if (typeof body === "object" && body !== null && "_tag" in body && body._tag === "HttpApiDecodeError") {
      const issues = "issues" in body && Array.isArray(body.issues) ? body.issues : []
      out = HttpServerResponse.unsafeJson({ error: describeIssues(issues), details: issues }, { status: 400 })
    }
  }
  if (res.status === 503) out = HttpServerResponse.setHeader(out, "retry-after", "5")
  // Swagger UI at /docs ships inline scripts and styles; everything else is held to 'self'.
  const csp = request.url.startsWith("/docs") ? {} : {
    "content-security-policy":
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
  }
  return Effect.succeed(HttpServerResponse.setHeaders(out, {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    ...csp
  }))
}

/**
 * Keeps every error in the documented shape { error, details }: HttpApi's own decode errors are
 * rewritten, 503s get Retry-After, and every response gets the basic security headers.
 */
const responses = HttpMiddleware.make((app) => Effect.zipRight(HttpApp.appendPreResponseHandler(shapeResponse), app))

const ApiLive = HttpApiBuilder.api(Api).pipe(Layer.provide(HandlersLive))

/**
 * Ends SSE streams before the server closes (it waits for open connections, and SSE ones never end
 * by themselves), then cuts whatever is still open after a short grace so shutdown stays bounded.
 */
const closeStreams = (server: Server) => Layer.scopedDiscard(Effect.gen(function*() {
  const feed = yield* LiveFeed
  yield* HttpServer.HttpServer
  yield* Effect.addFinalizer(() =>
    feed.close.pipe(
      Effect.zipRight(Effect.sleep("250 millis")),
      Effect.zipRight(Effect.sync(() => server.closeAllConnections()))
    )
  )
}))

export const layer = (config: HttpConfig) =>
  Layer.unwrapEffect(Effect.sync(() => {
    const server = createServer()
    return Layer.mergeAll(
      HttpApiBuilder.serve((app) => responses(HttpMiddleware.logger(app))).pipe(
        Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
        Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
        Layer.provide(SseRoutes),
        Layer.provide(DashboardRoutes),
        Layer.provide(MetricsRoutes),
        Layer.provide(ApiLive),
        HttpServer.withLogAddress
      ),
      closeStreams(server)
    ).pipe(Layer.provide(NodeHttpServer.layer(() => server, { port: config.port, host: config.host })))
  }))
