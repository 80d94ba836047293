import { Clock, Effect, Either, Metric, Queue } from "effect"
import { deadBatchLimit, encodeDeadLetter, sizedBatches } from "../Domain/DeadLetter.js"
import * as Operator from "../Domain/Operator.js"
import {
  candleChecksTotal,
  checkpointSeconds,
  checkpoints,
  consumerLag,
  fencedOut,
  pendingGauge,
  recordsDlq,
  ticksLate
} from "./Metrics.js"
import { type Consumption, noWork, type Snapshot } from "./State.js"

/**
 * Hands the work so far to the committer (after the previous commit finished) and starts afresh. Built once per
 * processor: the effect is run at each checkpoint.
 */
export const snapshot = (s: Consumption): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* s.idle
    const taken: Array<Snapshot["partitions"][number]> = []
    for (const [partition, p] of s.partitions) {
      if (p.nextOffset === p.snapshotOffset) continue
      taken.push({
        partition,
        epoch: p.epoch,
        nextOffset: p.nextOffset,
        state: Operator.encodeState(p.state),
        ticks: p.work.ticks,
        candles: [...p.work.candles.values()],
        gaps: p.work.gaps,
        checks: p.work.checks,
        deadLetters: p.work.dead.map((d) => ({
          offset: d.record.offset,
          reason: d.reason,
          key: d.record.key ?? "",
          letter: encodeDeadLetter(d),
          market: d.market
        }))
      })
      p.snapshotOffset = p.nextOffset
      p.work = noWork()
    }
    s.pendingTicks = 0
    yield* Metric.set(pendingGauge, 0)
    if (taken.length === 0) return
    s.committing = true
    s.inflight = yield* Effect.forkDaemon(
      commit(s, { partitions: taken }).pipe(
        // Tell the consumer loop: what piled up meanwhile is checkpointed next, not at the next interval.
        Effect.ensuring(
          Effect.suspend(() => {
            s.committing = false
            return Queue.offer(s.committed, { _tag: "Committed" })
          })
        )
      )
    )
  })

/** The committer: the snapshot's dead letters to the DLQ topic, then its checkpoint transaction, retried until done. */
const commit = Effect.fn("Processor.commit")(function* (s: Consumption, snapshot: Snapshot) {
  const { topic, groupId } = s.settings
  yield* publishDeadLetters(s, snapshot)
  const started = yield* Clock.currentTimeMillis
  const remaining = yield* commitFenced(s, snapshot)
  yield* Metric.increment(checkpoints)
  const millis = (yield* Clock.currentTimeMillis) - started
  yield* Metric.update(checkpointSeconds, millis / 1000)
  yield* Effect.logDebug(
    `checkpoint: ${remaining.reduce((n, p) => n + p.ticks.length, 0)} ticks, ` +
      `${remaining.reduce((n, p) => n + p.candles.length, 0)} candles, ` +
      `${remaining.length} partitions, ${remaining.reduce((n, p) => n + p.state.length, 0)} bytes of state in ${millis} ms`
  )
  yield* countChecks(remaining)
  yield* recordLag(s)
  // Kafka's committed offsets are for lag monitoring only; Postgres holds the truth.
  yield* s.bus
    .commitOffsets(
      topic,
      groupId,
      remaining.map(({ nextOffset, partition }) => ({ partition, offset: nextOffset }))
    )
    .pipe(Effect.ignore)
})

const publishDeadLetters = (s: Consumption, snapshot: Snapshot) =>
  Effect.gen(function* () {
    const dead = snapshot.partitions.flatMap((p) => p.deadLetters)
    if (dead.length === 0) return
    // Before the checkpoint: a crash in between re-sends them (at-least-once), never loses them. The checkpoint
    // itself records them in Postgres exactly once.
    const letters = dead.map((d) => ({ key: d.key, value: d.letter }))
    for (const batch of sizedBatches(letters, deadBatchLimit)) {
      yield* s.bus.publish(s.settings.dlqTopic, batch).pipe(
        Effect.tapError((e) => Effect.logWarning(`DLQ publish failed, retrying: ${e.message}`)),
        Effect.retry(s.settings.retry),
        Effect.orDie // the schedule never ends
      )
    }
    yield* Metric.incrementBy(recordsDlq, dead.length)
    yield* Metric.incrementBy(ticksLate, dead.filter((d) => d.reason === "late").length)
  })

/** The checkpoint transaction, fenced by each partition's epoch; returns the partitions it committed. */
const commitFenced = (s: Consumption, snapshot: Snapshot) =>
  Effect.gen(function* () {
    const { topic, owner, retry } = s.settings
    let remaining = snapshot.partitions
    while (remaining.length > 0) {
      const result = yield* s.store.commit({ topic, owner, partitions: remaining }).pipe(
        Effect.tapErrorTag("SqlError", (e) =>
          Effect.logWarning(
            `checkpoint failed, retrying: ${e.message}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`
          )
        ),
        Effect.retry({ schedule: retry, while: (e) => e._tag === "SqlError" }),
        Effect.catchTag("SqlError", Effect.die), // the schedule never ends
        Effect.either
      )
      if (Either.isRight(result)) break
      // Lost to a newer owner (a rebalance): drop those partitions and their work, commit the rest.
      const lost = new Set(result.left.partitions)
      yield* Effect.logWarning(`partitions ${[...lost].join(",")} have a newer owner; dropping their uncommitted work`)
      yield* Metric.incrementBy(fencedOut, lost.size)
      let dropped = false
      for (const p of lost) {
        const held = s.partitions.get(p)
        if (held !== undefined && snapshot.partitions.some((c) => c.partition === p && c.epoch === held.epoch)) {
          s.partitions.delete(p)
          dropped = true
        }
      }
      // The newer claim may be a stale one that landed late (a retried or delayed claim after a rebalance), with
      // the bus still assigning the partition here: rejoin, so whoever the group gives it to claims it afresh.
      if (dropped) yield* s.rejoinGroup
      remaining = remaining.filter((p) => !lost.has(p.partition))
    }
    return remaining
  })

/** The committed checks, counted by result; a mismatch logged with both candles (ours and the venue's). */
const countChecks = (committed: Snapshot["partitions"]) =>
  Effect.forEach(
    committed.flatMap((p) => p.checks),
    (c) =>
      Metric.increment(Metric.tagged(candleChecksTotal, "result", c.result)).pipe(
        Effect.zipRight(
          c.result === "mismatch"
            ? Effect.logWarning(
                `candle check: ${c.market} 1m ${new Date(c.bucketStart).toISOString()} differs from the venue's ` +
                  `(${c.mismatched.join(", ")}): ours ${JSON.stringify(c.ours)}, theirs ${JSON.stringify(c.theirs)}`
              )
            : Effect.void
        )
      ),
    { discard: true }
  )

/** Lag per partition after a checkpoint, at most once a second (it costs the broker a request). */
const recordLag = (s: Consumption) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    if (now - s.lagAt < 1000) return
    s.lagAt = now
    const ends = yield* s.bus.endOffsets(s.settings.topic)
    for (const [partition, p] of s.partitions) {
      yield* Metric.set(
        Metric.tagged(consumerLag, "partition", String(partition)),
        Math.max(0, (ends.get(partition) ?? 0) - p.snapshotOffset)
      )
    }
  }).pipe(Effect.ignore)
