// The fanout scenario's comparison over its repetitions: per repetition, the rate where the baseline fell behind,
// the service's delivery there ÷ the baseline's, memory per connection, CPU per delivered event; then the median and
// spread (min, max) of each over the repetitions, and the targets.
import { ratio } from "../../support/statistics.mjs"
import { summary } from "./latency-schedule.mjs"

const at = (r, rate) => r.steps.find((s) => s.rate === rate)

/** One repetition's figures, service ÷ baseline. */
export const compareRep = (svc, bare) => {
  // The rate the baseline fell behind at (or its last step, if it never did): where the issue compares delivery.
  const limit = bare.fellBehindAt ?? bare.steps.at(-1)?.rate ?? null
  // The highest rate both kept up with: where lag and CPU per event are compared, neither one backlogged.
  const common = bare.steps
    .filter((b) => !b.behind && at(svc, b.rate) !== undefined && !at(svc, b.rate).behind)
    .at(-1)?.rate
  const s = at(svc, limit)
  const b = at(bare, limit)
  const sc = common === undefined ? undefined : at(svc, common)
  const bc = common === undefined ? undefined : at(bare, common)
  return {
    baselineFellBehindAt: bare.fellBehindAt,
    serviceFellBehindAt: svc.fellBehindAt,
    comparedAtRate: limit,
    deliveredPerSecond: { service: s?.deliveredPerSecond ?? null, baseline: b?.deliveredPerSecond ?? null },
    deliveredRatio: s && b ? ratio(s.deliveredPerSecond, b.deliveredPerSecond) : null,
    rssPerConnectionKiB: { service: svc.rssPerConnectionKiB, baseline: bare.rssPerConnectionKiB },
    // Only when both rose above the noise (a GC between the idle and the connected samples can make one negative).
    rssPerConnectionRatio:
      svc.rssPerConnectionKiB > 0 && bare.rssPerConnectionKiB > 0
        ? ratio(svc.rssPerConnectionKiB, bare.rssPerConnectionKiB)
        : null,
    bothKeptUpTo: common ?? null,
    lagP99AtBothKeptUp: { service: sc?.lagMs.p99 ?? null, baseline: bc?.lagMs.p99 ?? null },
    lagP99Ratio: sc && bc ? ratio(sc.lagMs.p99, bc.lagMs.p99) : null,
    cpuSecondsPerMillionAtBothKeptUp: {
      service: sc?.serverCpuSecondsPerMillion ?? null,
      baseline: bc?.serverCpuSecondsPerMillion ?? null
    },
    cpuPerEventRatio: sc && bc ? ratio(sc.serverCpuSecondsPerMillion, bc.serverCpuSecondsPerMillion) : null
  }
}

/** Median and spread of every repetition's comparison, and the targets (which never fail a run). */
export const summarise = (reps) => {
  const of = (f, digits = 3) => summary(reps.map(f), digits)
  const overall = {
    repetitions: reps.length,
    baselineFellBehindAt: of((r) => r.baselineFellBehindAt, 0),
    serviceFellBehindAt: of((r) => r.serviceFellBehindAt, 0),
    deliveredRatioAtBaselineLimit: of((r) => r.deliveredRatio),
    rssPerConnectionKiB: {
      service: of((r) => r.rssPerConnectionKiB.service, 1),
      baseline: of((r) => r.rssPerConnectionKiB.baseline, 1)
    },
    rssPerConnectionRatio: of((r) => r.rssPerConnectionRatio),
    lagP99RatioAtBothKeptUp: of((r) => r.lagP99Ratio),
    cpuPerEventRatioAtBothKeptUp: of((r) => r.cpuPerEventRatio),
    definition:
      "service ÷ baseline per repetition, then median [min, max] over repetitions: delivered ticks/s at the rate " +
      "where the baseline fell behind (higher is better), RSS per connection, p99 lag and server CPU-seconds per " +
      "1M delivered events at the highest rate both kept up with (lower is better)"
  }
  const delivered = overall.deliveredRatioAtBaselineLimit.median
  const memory = overall.rssPerConnectionRatio.median
  return {
    overall,
    target: {
      rssPerConnectionRatioAtMost: 2,
      deliveredRatioAtBaselineLimitAtLeast: 0.8,
      measured: { rssPerConnectionRatio: memory ?? null, deliveredRatio: delivered ?? null },
      met: memory !== undefined && delivered !== undefined && memory <= 2 && delivered >= 0.8
    }
  }
}
