import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Metric, type MetricPair, MetricState, Option } from "effect"

/**
 * GET /metrics in the Prometheus text format (0.0.4), rendered from Effect's own metric registry.
 * A few dozen lines instead of the OpenTelemetry SDK, exporter and their peers: we only need counters,
 * gauges and histograms, and this keeps Effect's names and tags as they are.
 */
const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const name = (n: string) => n.replace(/[^a-zA-Z0-9_:]/g, "_")
const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra: ReadonlyArray<[string, string]> = []) => {
  const all = [...tags.map((t) => [t.key, t.value] as const), ...extra]
  return all.length === 0 ? "" : `{${all.map(([k, v]) => `${name(k)}="${escape(v)}"`).join(",")}}`
}
const num = (n: number | bigint) => (typeof n === "bigint" ? n.toString() : Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN")

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
        if (bound !== Number.POSITIVE_INFINITY) f.lines.push(`${n}_bucket${labels(tags, [["le", num(bound)]])} ${count}`)
      }
      f.lines.push(`${n}_bucket${labels(tags, [["le", "+Inf"]])} ${state.count}`)
      f.lines.push(`${n}_sum${labels(tags)} ${num(state.sum)}`, `${n}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const f = family(n, "counter", help)
      for (const [value, count] of state.occurrences) f.lines.push(`${n}${labels(tags, [["value", value]])} ${count}`)
    }
  }
  return [...families].map(([n, f]) => `# HELP ${n} ${escape(f.help)}\n# TYPE ${n} ${f.type}\n${f.lines.join("\n")}`).join("\n") + "\n"
}

export const MetricsRoutes = HttpApiBuilder.Router.use((router) =>
  router.get("/metrics", Effect.map(Metric.snapshot, (pairs) =>
    HttpServerResponse.text(render(pairs), { contentType: "text/plain; version=0.0.4; charset=utf-8" }))))
