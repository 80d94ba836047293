import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Effect, Metric, Runtime } from "effect"
import { Bus } from "../Bus/Bus.js"
import { render } from "../Http/Metrics.js"
import { dependencyOf } from "../Http/Venues.js"
import * as Status from "../Sources/Status.js"

/**
 * The producer's own small HTTP listener (STATUS_PORT), so a producer run alone can be probed and scraped: `/health`,
 * `/ready` (the bus and each venue connection, in `/ready`'s shape) and `/metrics` (Prometheus text).
 */

const busState = (topic: string) =>
  Effect.flatMap(Bus, (bus) =>
    bus.endOffsets(topic).pipe(
      Effect.timeoutFail({ duration: "1 second", onTimeout: () => ({ message: "no answer within 1 s" }) }),
      Effect.match({
        onSuccess: () => ({ kind: bus.kind, state: "up" as const }),
        onFailure: (e) => ({ kind: bus.kind, state: "down" as const, error: e.message })
      })
    )
  )

/** 200 `ready` (all up) or `degraded` (a venue down) while the bus answers; 503 `unavailable` when it does not. */
export const readiness = (topic: string) =>
  Effect.gen(function* () {
    const bus = yield* busState(topic)
    const venues = yield* Status.snapshot
    const dependencies = { bus, ...Object.fromEntries(venues.map((v) => [`venue:${v.venue}`, dependencyOf(v)])) }
    const status =
      bus.state === "down"
        ? "unavailable"
        : Object.values(dependencies).every((d) => d.state === "up")
          ? "ready"
          : "degraded"
    return { code: status === "unavailable" ? 503 : 200, body: { status, dependencies } }
  })

const answer = (res: ServerResponse, code: number, type: string, body: string) => {
  res.writeHead(code, { "content-type": type, "x-content-type-options": "nosniff" })
  res.end(body)
}

const route = (topic: string, req: IncomingMessage) => {
  const path = (req.url ?? "/").split("?")[0]
  if (req.method !== "GET") return Effect.succeed({ code: 405, type: "application/json", body: '{"error":"GET only"}' })
  switch (path) {
    case "/health":
      return Effect.succeed({ code: 200, type: "application/json", body: '{"status":"ok"}' })
    case "/ready":
      return Effect.map(readiness(topic), (r) => ({
        code: r.code,
        type: "application/json",
        body: JSON.stringify(r.body)
      }))
    case "/metrics":
      return Effect.map(Metric.snapshot, (pairs) => ({
        code: 200,
        type: "text/plain; version=0.0.4; charset=utf-8",
        body: render(pairs)
      }))
    default:
      return Effect.succeed({ code: 404, type: "application/json", body: '{"error":"not found"}' })
  }
}

/** Listens on host:port for as long as the scope is open. */
export const serve = (options: { readonly topic: string; readonly port: number; readonly host: string }) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<Bus>()
    const run = Runtime.runPromise(runtime)
    const server = createServer((req, res) => {
      run(route(options.topic, req)).then(
        (r) => answer(res, r.code, r.type, r.body),
        (e: unknown) => answer(res, 500, "application/json", JSON.stringify({ error: String(e) }))
      )
    })
    yield* Effect.acquireRelease(
      Effect.async<void, Error>((resume) => {
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(options.port, options.host, () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    yield* Effect.logInfo(`producer: /health, /ready and /metrics on http://${options.host}:${options.port}`)
  })
