// The latency scenario's figures over its repetitions: per rate and target, the median and spread (min, max) of each
// percentile, the Redis → SSE split, and the ratio service ÷ baseline of each repetition (same rate, same run).
import { ratio } from "../../support/statistics.mjs"
import { summary } from "./latency-schedule.mjs"

const quantiles = ["p50", "p90", "p99", "max"]
const spread = (runs, pick) =>
  Object.fromEntries(
    quantiles.map((q) => [
      q,
      summary(
        runs.map((r) => pick(r)?.[q]),
        0
      )
    ])
  )

const byTarget = (runs) => ({
  lagMs: spread(runs, (r) => r.lagMs),
  toRedisLagMs: spread(runs, (r) => r.toRedisLagMs),
  sentInWindow: runs.reduce((a, r) => a + r.sentInWindow, 0),
  received: runs.reduce((a, r) => a + r.received, 0),
  repeats: runs.reduce((a, r) => a + r.repeats, 0),
  missing: runs.reduce((a, r) => a + r.missing, 0),
  serverCpuPercent: summary(runs.map((r) => r.serverCpuPercent)),
  publisherMaxSlipMs: summary(
    runs.map((r) => r.publisher.maxSlipMs),
    0
  ),
  runs
})

/**
 * Per rate: each target over the repetitions, and the per-repetition ratios' median and spread: service ÷ baseline,
 * and service ÷ each compared build (`compared`: the names of --compare-dist targets).
 */
export const latencySummary = (phases, rates, compared = []) =>
  Object.fromEntries(
    rates.map((rate) => {
      const of = (target) => phases.filter((p) => p.rate === rate && p.target === target)
      const svc = of("service")
      const ratios = (q, other = "baseline") => {
        const them = of(other)
        const pairs = svc.map((s) => [s, them.find((b) => b.rep === s.rep)]).filter(([, b]) => b !== undefined)
        return summary(
          pairs.map(([s, b]) => ratio(s.lagMs[q], b.lagMs[q])),
          2
        )
      }
      return [
        rate,
        {
          service: byTarget(svc),
          baseline: byTarget(of("baseline")),
          ...Object.fromEntries(compared.map((c) => [c, byTarget(of(c))])),
          ...Object.fromEntries(
            compared.map((c) => [`ratio vs ${c}`, { p50: ratios("p50", c), p99: ratios("p99", c) }])
          ),
          ratio: {
            p50: ratios("p50"),
            p99: ratios("p99"),
            definition:
              "service latency ÷ baseline latency per repetition, median [min, max] (lower is better; 1 = as fast as the bare relay)"
          }
        }
      ]
    })
  )
