import {
  HttpApiBuilder,
  type HttpApp,
  HttpServerError,
  type HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Chunk, Effect, Layer } from "effect"

/** A route's path as a pattern: `:name` is one segment, `*` anything. */
const patternOf = (path: string) =>
  new RegExp(
    `^${path
      .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
      .replace(/:\w+/g, "[^/]+")
      .replace(/\*/g, ".*")}$`
  )

type Table = ReadonlyArray<{ readonly pattern: RegExp; readonly method: string }>

const respond = (table: Table, e: HttpServerError.RouteNotFound) => {
  const path = new URL(e.request.url, "http://localhost").pathname
  const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method))
  if (methods.size === 0) return HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })
  if (methods.has("GET")) methods.add("HEAD")
  const allowed = [...methods, "OPTIONS"]
  const allow = allowed.join(", ")
  if (e.request.method === "OPTIONS") return HttpServerResponse.empty({ status: 204, headers: { allow } })
  return HttpServerResponse.unsafeJson(
    { error: `${e.request.method} is not allowed here: ${allow}`, details: { allow: allowed } },
    { status: 405, headers: { allow } }
  )
}

/**
 * Where the router found no route: a path it knows, asked with another method, is a 405 with `Allow` (RFC 9110), or
 * for OPTIONS a 204 with `Allow`; an unknown path is a JSON 404. An API middleware: it must answer before the server
 * sends the router's own bare 404. The routes are read when the first request misses (all are added by then).
 */
export const unrouted = HttpApiBuilder.middleware(
  Effect.map(HttpApiBuilder.Router, (router) => {
    let table: Table | undefined
    const routes = Effect.map(router.router, (r) =>
      Chunk.toReadonlyArray(r.routes).map((route) => ({ pattern: patternOf(route.path), method: route.method }))
    )
    return (app: HttpApp.Default): HttpApp.Default =>
      Effect.catchIf(
        // Typed as failing with nothing; the router fails with RouteNotFound.
        app as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>,
        (e) => e instanceof HttpServerError.RouteNotFound,
        (e) =>
          Effect.map(table === undefined ? routes : Effect.succeed(table), (t) => {
            table = t
            return respond(t, e as HttpServerError.RouteNotFound)
          })
      ) as HttpApp.Default
  })
).pipe(Layer.provide(HttpApiBuilder.Router.Live))
