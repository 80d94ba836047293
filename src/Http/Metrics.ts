import { hostname } from "node:os"
import { HttpApiBuilder, HttpMiddleware, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Config, Effect, Exit, Metric, MetricBoundaries, type MetricPair, MetricState, Option } from "effect"

/**
 * GET /metrics in the Prometheus text format (0.0.4), rendered from Effect's own metric registry.
 * A few dozen lines instead of the OpenTelemetry SDK, exporter and their peers: we only need counters,
 * gauges and histograms, and this keeps Effect's names and tags as they are.
 */
const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const name = (n: string) => n.replace(/[^a-zA-Z0-9_:]/g, "_")
const labels = (
  tags: ReadonlyArray<{ readonly key: string; readonly value: string }>,
  extra: ReadonlyArray<[string, string]> = []
) => {
  const all = [...tags.map((t) => [t.key, t.value] as const), ...extra]
  return all.length === 0 ? "" : `{${all.map(([k, v]) => `${name(k)}="${escapeLabel(v)}"`).join(",")}}`
}
const num = (n: number | bigint) =>
  typeof n === "bigint" ? n.toString() : Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN"

export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: string; help: string; lines: Array<string> }>()
  const family = (n: string, type: string, help: string) => {
    const f = families.get(n) ?? { type, help, lines: [] }
    families.set(n, f)
    return f
  }
  for (const { metricKey: key, metricState: state } of pairs) {
    const n = name(key.name)
    const help = Option.getOrElse(key.description, () => key.name)
    const tags = key.tags
    if (MetricState.isCounterState(state)) {
      family(n, "counter", help).lines.push(`${n}${labels(tags)} ${num(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(n, "gauge", help).lines.push(`${n}${labels(tags)} ${num(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const f = family(n, "histogram", help)
      for (const [bound, count] of state.buckets) {
        if (bound !== Number.POSITIVE_INFINITY)
          f.lines.push(`${n}_bucket${labels(tags, [["le", num(bound)]])} ${count}`)
      }
      f.lines.push(`${n}_bucket${labels(tags, [["le", "+Inf"]])} ${state.count}`)
      f.lines.push(`${n}_sum${labels(tags)} ${num(state.sum)}`, `${n}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const f = family(n, "counter", help)
      for (const [value, count] of state.occurrences) f.lines.push(`${n}${labels(tags, [["value", value]])} ${count}`)
    }
  }
  return `${[...families].map(([n, f]) => `# HELP ${n} ${escapeLabel(f.help)}\n# TYPE ${n} ${f.type}\n${f.lines.join("\n")}`).join("\n")}\n`
}

/**
 * Which `api` instance this is, as one series (`app_instance_info{instance_id="…"} 1`) rather than a label on every
 * series: Prometheus already labels each scraped target `instance`, and an exported `instance` would be renamed.
 */
const instanceInfo = Metric.gauge("app_instance_info", {
  description: "1, labelled with this process's instance_id (INSTANCE_ID, else hostname:PORT)"
})
const instanceId = Config.string("INSTANCE_ID").pipe(
  Config.orElse(() => Config.map(Config.withDefault(Config.string("PORT"), "3000"), (port) => `${hostname()}:${port}`)),
  Effect.orElseSucceed(() => hostname())
)

export const MetricsRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    yield* Metric.set(Metric.tagged(instanceInfo, "instance_id", yield* instanceId), 1)
    yield* router.get(
      "/metrics",
      Effect.map(Metric.snapshot, (pairs) =>
        HttpServerResponse.text(render(pairs), { contentType: "text/plain; version=0.0.4; charset=utf-8" })
      )
    )
  })
)

const requestSeconds = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 14 }),
  "HTTP request duration by route and status"
)

/** The route, not the URL: symbols, markets and files become placeholders so the label set stays small. */
const route = (url: string): string => {
  const path = url.split("?")[0] ?? "/"
  const m = /^\/api\/(latest|candles|indicators)\/[^/]+$/.exec(path)
  if (m !== null) return `/api/${m[1]}/:symbol`
  if (/^\/api\/markets\/[^/]+\/gaps$/.test(path)) return "/api/markets/:market/gaps"
  if (path.startsWith("/static/") || path.startsWith("/vendor/")) return path.replace(/\/[^/]+$/, "/:file")
  if (path.startsWith("/docs")) return "/docs"
  return /^\/(api\/[a-z/]+|health|ready|metrics|openapi\.json|favicon\.ico)?$/.test(path) ? path : "other"
}

// One tagged histogram per route and status, made once: tagging anew per request rebuilt and rehashed its key each time.
// Bounded: routes are a fixed set (see route), statuses are the few the server sends.
const timers = new Map<string, Metric.Metric.Histogram<number>>()
const timer = (route: string, status: string) => {
  const key = `${route} ${status}`
  let found = timers.get(key)
  if (found === undefined) {
    found = requestSeconds.pipe(Metric.tagged("route", route), Metric.tagged("status", status))
    timers.set(key, found)
  }
  return found
}

/** Records one request as requestMetrics does, outside Effect: for the hot routes (HotRoutes.ts). */
export const recordRequest = (url: string, status: number, seconds: number) =>
  timer(route(url), String(status)).unsafeUpdate(seconds, [])

/** Times every request (an SSE stream counts when it ends). */
export const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(app)
    const status = Exit.isSuccess(exit) ? String(exit.value.status) : "error"
    const seconds = ((yield* Clock.currentTimeMillis) - start) / 1000
    yield* Metric.update(timer(route(request.url), status), seconds)
    return yield* exit
  })
)
