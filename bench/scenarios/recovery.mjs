// recovery: SIGKILL the real `processor` while this process publishes ~5,000 ticks/s (50 symbols) to its topic, start
// a new one at once, and time: the claim of the partitions (the killed member's session must expire first),
// the first checkpoint of the new process (resumed), and the moment its checkpointed lag is back to what it was
// before the kill (caught up). Afterwards Postgres is checked against the topic: lost and double-counted ticks.
// Baseline, same run, its own topic, same publisher: a bare kafkajs consumer with auto-commit (at-least-once) in the
// same consumer-group settings, killed and restarted the same way (bench/lib/recovery-*.mjs).
//
// Each repetition kills at --kill-at + U(0, --checkpoint-interval) seconds (seeded: --seed, printed and recorded), so
// the kill falls at a random point of the checkpoint cycle; the processor and the baseline alternate and share each
// repetition's kill point. Reported: kill → caught up, and claim → caught up, which leaves out the wait for the
// killed member's session to expire (10 s, the same on both sides), the larger part of kill → caught up.

import { mulberry32 } from "../../support/random.mjs"
import { log } from "../../support/results.mjs"
import { ratio, round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { runBaseline } from "../lib/recovery-baseline.mjs"
import { spread } from "../lib/recovery-common.mjs"
import { runProcessor } from "../lib/recovery-processor.mjs"

export const describe =
  "SIGKILL the processor at ~5k ticks/s at random points of its checkpoint cycle: claim → caught up and " +
  "kill → caught up, lost/double-counted, vs a bare auto-commit consumer"

const FIGURES = [
  "claimedAfterKillSeconds",
  "resumedAfterKillSeconds",
  "caughtUpAfterKillSeconds",
  "claimToCaughtUpSeconds",
  "drainedAfterPublishEndSeconds",
  "maxLagAfterKill"
]
const summary = (runs) => Object.fromEntries(FIGURES.map((k) => [k, spread(runs, k)]))

const checksOf = (run, drainTimeout) => [
  {
    check: "no tick lost (Postgres against the topic and against what was sent)",
    ok: run.checks.lost === 0 && run.checks.lostBySymbol === 0
  },
  {
    check: "no tick counted twice (candle tick counts = ticks)",
    ok: run.checks.doubleCounted === 0 && run.checks.extraRows === 0
  },
  { check: "nothing in the DLQ", ok: run.checks.dlqRecords === 0 },
  {
    check: `the processor drained the topic within --drain-timeout ${drainTimeout} s after publishing (else loss cannot be judged)`,
    ok: run.drainedAfterPublishEndSeconds !== null
  }
]

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const rate = Number(options.rate)
  const seconds = Number(options.seconds)
  const killAt = Number(options.killAt)
  const restartDelay = Number(options.restartDelay ?? 0)
  const reps = Number(options.reps ?? 3)
  const checkpointInterval = Number(options.checkpointInterval ?? 5)
  const seed = Number(options.seed ?? Math.floor(Math.random() * 2 ** 31))
  const coins = benchSymbols(Number(options.symbols ?? 50), "R")
  const drainTimeout = Number(options.drainTimeout ?? 600)
  const random = mulberry32(seed)
  const killDelays = Array.from({ length: reps }, () => Math.round(random() * checkpointInterval * 1000))
  log(`recovery: seed ${seed}; kills at ${killAt} s + [${killDelays.join(", ")}] ms; ${reps} repetitions each side`)
  const processor = []
  const baseline = []
  for (const [i, killDelay] of killDelays.entries()) {
    const shared = { env, clean, rate, seconds, killAt, killDelay, coins, restartDelay }
    // Interleaved, and which side goes first alternates, so a drift in the machine's load falls on both.
    const sides = [
      async () => {
        log(
          `recovery ${i + 1}/${reps}: processor, ${rate}/s for ${seconds} s, SIGKILL at ${killAt} s + ${killDelay} ms`
        )
        processor.push(
          await runProcessor({
            ...shared,
            redis,
            profileDir: i === 0 ? profileDir : undefined,
            checkpointInterval,
            drainTimeout
          })
        )
      },
      async () => {
        log(`recovery ${i + 1}/${reps}: baseline consumer, SIGKILL at ${killAt} s + ${killDelay} ms`)
        baseline.push(await runBaseline(shared))
      }
    ]
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) await side()
  }
  const ours = summary(processor)
  const bare = summary(baseline)
  const correctness = processor.flatMap((r, i) =>
    checksOf(r, drainTimeout).map((c) => ({ ...c, check: `run ${i + 1}: ${c.check}` }))
  )
  return {
    parameters: {
      rate,
      seconds,
      killAt,
      killDelaysMs: killDelays,
      seed,
      reps,
      checkpointIntervalSeconds: checkpointInterval,
      restartDelay,
      drainTimeout,
      symbols: coins.length,
      partitions: 3,
      sessionTimeoutMs: 10_000,
      rejoin:
        "a new member after the killed one's session expires (10 s, both sides): kafkajs 2.2.4 has no static " +
        "membership (group.instance.id), so claim → caught up is reported to leave that shared wait out",
      redis: redis.kind,
      caughtUp:
        "checkpointed lag (topic end − checkpointed offsets) back under max(1.5 × its median over the 5 s " +
        "before the kill, one second of input)"
    },
    figures: { processor: { summary: ours, runs: processor }, baseline: { summary: bare, runs: baseline } },
    ratio: {
      claimToCaughtUp: ratio(ours.claimToCaughtUpSeconds.median, bare.claimToCaughtUpSeconds.median),
      caughtUp: ratio(ours.caughtUpAfterKillSeconds.median, bare.caughtUpAfterKillSeconds.median),
      resumed: ratio(ours.resumedAfterKillSeconds.median, bare.resumedAfterKillSeconds.median),
      definition: "medians over the repetitions: processor seconds ÷ baseline seconds (lower is better)"
    },
    target: { lostAndDoubleCounted: 0, met: correctness.every((c) => c.ok) },
    baselineRedelivered: round(
      baseline.reduce((n, r) => n + r.checks.redelivered, 0) / Math.max(1, baseline.length),
      0
    ),
    correctness
  }
}
