// The throughput scenario's summary: per contender the median and spread (min–max) of its repetitions, the ratios
// of ours to each peer and ceiling, the targets (never failing a run) and the correctness checks.
import { ratio, round } from "../../support/statistics.mjs"

const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number").sort((a, b) => a - b)
  if (s.length === 0) return null
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

const spread = (xs, digits = 0) => {
  const s = xs.filter((x) => typeof x === "number")
  return s.length === 0
    ? null
    : { median: round(median(s), digits), min: round(Math.min(...s), digits), max: round(Math.max(...s), digits) }
}

/** Median and spread of a contender's repetitions: rate, durable seconds, CPU-seconds per million ticks, peak RSS. */
export const summarise = (label, describe, reps) => {
  if (reps.length === 0) return { label, describe, reps }
  const names = Object.keys(reps[0].cpuSecondsPerMillionTicks)
  return {
    label,
    describe,
    ticksPerSecond: spread(reps.map((r) => r.ticksPerSecond)),
    durableSeconds: spread(
      reps.map((r) => r.durableSeconds),
      3
    ),
    cpuSecondsPerMillionTicks: Object.fromEntries(
      names.map((k) => [
        k,
        spread(
          reps.map((r) => r.cpuSecondsPerMillionTicks[k]),
          2
        )
      ])
    ),
    runQueueWaitSeconds: spread(
      reps.map((r) => r.runQueueWaitSeconds),
      2
    ),
    rssMaxMiB: Math.max(...reps.map((r) => r.rssMaxMiB ?? 0)),
    ok: reps.every((r) => r.checks.ok),
    reps
  }
}

const rateOf = (c) => c?.ticksPerSecond?.median ?? null
const cpuOf = (c) => c?.cpuSecondsPerMillionTicks?.total?.median ?? null

/** Ratios of our medians to each other contender's; the targets of issue #17. */
export const compare = (contenders) => {
  const ours = contenders.ours
  const ratios = {}
  for (const [name, c] of Object.entries(contenders)) {
    if (name === "ours" || c.reps?.length === 0) continue
    ratios[name] = {
      durableRate: ratio(rateOf(ours), rateOf(c)),
      cpuPerMillionTicks: ratio(cpuOf(ours), cpuOf(c))
    }
  }
  // The faster Flink configuration is the one to beat.
  const flinks = Object.entries(contenders).filter(([name, c]) => name.startsWith("flink") && c.reps?.length > 0)
  const flink = flinks.sort((a, b) => rateOf(b[1]) - rateOf(a[1]))[0]
  const vsSink = ratio(rateOf(ours), rateOf(contenders.minimalSink))
  const target = {
    durableVsMinimalSink: { want: "≥ 0.8", got: vsSink, met: vsSink !== null && vsSink >= 0.8 },
    durableVsFlink: flink
      ? {
          want: "≥ 2",
          against: flink[0],
          got: ratio(rateOf(ours), rateOf(flink[1])),
          met: ratio(rateOf(ours), rateOf(flink[1])) >= 2
        }
      : { want: "≥ 2", got: null, met: null, note: "Flink not run (--peers) or skipped" },
    cpuVsFlink: flink
      ? {
          want: "< Flink's CPU-seconds per million ticks (all processes)",
          against: flink[0],
          ours: cpuOf(ours),
          flink: cpuOf(flink[1]),
          met: cpuOf(ours) !== null && cpuOf(flink[1]) !== null && cpuOf(ours) < cpuOf(flink[1])
        }
      : { met: null, note: "Flink not run (--peers) or skipped" },
    definition:
      "medians of the repetitions; durable rate = N ÷ (claim → checkpoint rows covering all N records); CPU = sum " +
      "over the contender's process, the Postgres cluster, Kafka's JVM (and our Redis) in that window"
  }
  return { ratios, target }
}

/** One correctness line per contender: every repetition kept every tick once and (where it makes candles) counted it once. */
export const correctness = (contenders) =>
  Object.entries(contenders)
    .filter(([, c]) => c.reps?.length > 0)
    .map(([name, c]) => ({
      check: `${name}: ${name === "consumeOnly" ? "read every record" : "every tick durable once, nothing lost or double counted"}`,
      ok: c.reps.every((r) => r.checks.ok),
      failed: c.reps.filter((r) => !r.checks.ok).map((r) => r.rep)
    }))
