// recovery (bench/scenarios/recovery.mjs): what both sides share: the topic's end offsets sampled, the lag timeline,
// the phase times after the kill, and the median and spread over repetitions.
import { endOffsets, kafka } from "../../support/kafka.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"

export const median = (xs) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)])

/** Samples the topic's end offsets every 250 ms until stopped. */
export const endSampler = async (env, topic) => {
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  let latest = new Map()
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      try {
        latest = await endOffsets(admin, topic)
      } catch {
        // a slow broker answer: keep the previous sample
      }
      await sleep(250)
    }
  })()
  return {
    total: () => [...latest.values()].reduce((a, b) => a + b, 0),
    fresh: async () => [...(await endOffsets(admin, topic)).values()].reduce((a, b) => a + b, 0),
    stop: async () => {
      stopped = true
      await loop
      await admin.disconnect()
    }
  }
}

export const timeline = () => {
  const points = []
  return {
    points,
    add: (p) => points.push(p),
    /** Pre-kill steady lag: the median over the 5 s before the kill (after the first 3 s of publishing). */
    steadyLag: (from, to) => median(points.filter((p) => p.t >= from && p.t < to).map((p) => p.lag))
  }
}

/**
 * Seconds after the kill of: the claim, the first progress, caught up; and claim → caught up, which leaves out the
 * wait for the killed member's session to expire (the same 10 s for both sides).
 */
export const phaseTimes = ({ kill, claimed, resumed, points, threshold, publishEnd, drained }) => {
  const caught = resumed === undefined ? undefined : points.find((p) => p.t >= resumed && p.lag <= threshold)
  const s = (t) => (t === undefined ? null : round((t - kill) / 1000, 2))
  return {
    claimedAfterKillSeconds: s(claimed),
    resumedAfterKillSeconds: s(resumed),
    caughtUpAfterKillSeconds: caught ? s(caught.t) : null,
    claimToCaughtUpSeconds: caught && claimed !== undefined ? round((caught.t - claimed) / 1000, 2) : null,
    caughtUpWhilePublishing: caught ? caught.t <= publishEnd : false,
    drainedAfterPublishEndSeconds: drained === undefined ? null : round((drained - publishEnd) / 1000, 2),
    maxLagAfterKill: Math.max(0, ...points.filter((p) => p.t >= kill).map((p) => p.lag)),
    caughtUpThreshold: threshold
  }
}

/** Median, min and max of one figure over the repetitions (nulls counted apart). */
export const spread = (runs, key) => {
  const xs = runs.map((r) => r[key]).filter((x) => typeof x === "number")
  if (xs.length === 0) return { median: null, min: null, max: null, n: 0, missing: runs.length }
  return {
    median: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    n: xs.length,
    missing: runs.length - xs.length
  }
}
