import { Deferred, Effect, Either, Metric } from "effect"
import type { BusRecord } from "../Bus/Bus.js"
import { decodeRecord, isGap, isKline } from "../Bus/Record.js"
import type { Gap } from "../Domain/Gap.js"
import type { Market } from "../Domain/Market.js"
import * as Operator from "../Domain/Operator.js"
import type { Tick } from "../Domain/Tick.js"
import { tickMarket } from "../Domain/TickMarket.js"
import type { CandleRow, Claim, PartitionsChanged } from "../Store/Store.js"
import { gapsTotal, pendingGauge, ticksDeduped, ticksProcessed } from "./Metrics.js"
import { type Consumption, type Event, noWork, type Partition } from "./State.js"

/**
 * Checks the topic's partition count against its checkpoints' (`Store.claim`), then claims `assigned` (epoch + 1);
 * SQL errors are retried. With no partitions, the check alone (at start).
 */
export const claimChecked = (s: Consumption, assigned: ReadonlyArray<number>) => {
  const { topic, owner, retry } = s.settings
  return Effect.flatMap(s.bus.endOffsets(topic), (ends) => s.store.claim(topic, assigned, owner, ends.size)).pipe(
    Effect.tapError((e) =>
      e._tag === "PartitionsChanged"
        ? Effect.void
        : Effect.logWarning(`could not claim partitions, retrying: ${e.message}`)
    ),
    Effect.retry({ schedule: retry, while: (e) => e._tag !== "PartitionsChanged" })
  )
}

/**
 * On assignment: claims the partitions (epoch + 1) and resumes each from its checkpoint. A topic whose partitions
 * changed claims nothing and fails `refused`, which stops the processor (Processor.ts).
 */
export const claim = Effect.fn("Processor.claim")(function* (
  s: Consumption,
  assigned: ReadonlyArray<number>,
  refused: Deferred.Deferred<never, PartitionsChanged>
) {
  const claims = yield* claimChecked(s, assigned).pipe(
    Effect.catchTag("PartitionsChanged", (e) => Effect.as(Deferred.fail(refused, e), new Map<number, Claim>()))
  )
  const offsets = new Map<number, number>()
  let legacy: ReadonlyMap<string, Market> | undefined
  for (const [partition, claim] of claims) {
    // A checkpoint from before markets needs market_legacy (read once, only then).
    if (legacy === undefined && isLegacy(claim.state)) legacy = yield* marketLegacy(s)
    const state =
      claim.state === null ? Operator.emptyState() : yield* Operator.decodeState(claim.state, legacy).pipe(Effect.orDie)
    s.partitions.set(partition, {
      epoch: claim.epoch,
      state,
      changes: Operator.emptyChanges(),
      nextOffset: claim.nextOffset,
      snapshotOffset: claim.nextOffset,
      work: noWork()
    })
    offsets.set(partition, claim.nextOffset)
  }
  yield* Effect.logInfo(
    `processor: claimed partitions ${assigned.join(",")}, resuming at offsets ${JSON.stringify(Object.fromEntries(offsets))}`
  )
  return offsets
})

const isLegacy = (state: unknown) => typeof state === "object" && state !== null && "symbols" in state

const marketLegacy = (s: Consumption) =>
  s.store.marketLegacy.pipe(
    Effect.tapError((e) => Effect.logWarning(`could not read market_legacy, retrying: ${e.message}`)),
    Effect.retry(s.settings.retry),
    Effect.orDie // the schedule never ends
  )

interface Intake {
  readonly accepted: Array<Tick>
  readonly gaps: Array<Gap>
  /** Ticks and gaps in record order, for the live channel: only built once a batch has a gap (most have none). */
  live: Array<Tick | Gap> | undefined
  duplicates: number
}

/**
 * A batch's records to the operator in record order: ticks judged against the clock skew and the watermark, gaps and
 * the venue's klines (neither is a tick: never late) handed over as they come. Bad records become dead letters.
 */
const intake = (s: Consumption, p: Partition, records: ReadonlyArray<BusRecord>): Intake => {
  const { lateness, maxFutureSkew } = s.settings
  const got: Intake = { accepted: [], gaps: [], live: undefined, duplicates: 0 }
  for (const record of records) {
    if (record.offset < p.nextOffset) continue // already in the record (a redelivery)
    p.nextOffset = record.offset + 1
    const decoded = decodeRecord(record.value)
    if (Either.isLeft(decoded)) {
      p.work.dead.push({ reason: "decode", detail: decoded.left.message.slice(0, 2000), record })
      continue
    }
    const r = decoded.right
    if (isGap(r)) {
      Operator.acceptGap(p.state, r, p.changes)
      got.gaps.push(r)
      ;(got.live ??= got.accepted.slice()).push(r)
      continue
    }
    if (isKline(r)) {
      Operator.acceptKline(p.state, r, lateness, p.changes)
      continue
    }
    // A clock far ahead would drag the watermark along and make every honest tick after it "late". Judged
    // against the record's own timestamp, not now, so a replay decides the same way.
    if (r.eventTime > record.timestamp + maxFutureSkew) {
      p.work.dead.push({
        reason: "future",
        detail: `event time ${r.eventTime} is more than ${maxFutureSkew} ms after the record's timestamp ${record.timestamp}`,
        record,
        market: tickMarket(r)
      })
      continue
    }
    const verdict = Operator.accept(p.state, r, lateness, p.changes)
    if (verdict._tag === "Late") {
      p.work.dead.push({
        reason: "late",
        detail: `event time ${r.eventTime} is behind the watermark ${verdict.watermark}`,
        record,
        market: tickMarket(r)
      })
    } else if (verdict._tag === "Duplicate") got.duplicates++
    else {
      got.accepted.push(r)
      got.live?.push(r)
    }
  }
  return got
}

/**
 * One batch of a partition's records through the operator; what it accepted, the candles it changed and the checks
 * it made join the partition's work for the checkpoint, and go to the live channel.
 */
const handleRecords = (s: Consumption, partition: number, records: ReadonlyArray<BusRecord>) =>
  Effect.suspend(() => {
    const p = s.partitions.get(partition)
    if (p === undefined) return Effect.void
    const deadBefore = p.work.dead.length
    const { accepted, gaps, live, duplicates } = intake(s, p, records)
    // The changed candles once per batch, with their values after its last record.
    const touched = new Map<string, CandleRow>()
    for (const c of Operator.collect(p.state, p.changes))
      touched.set(c.key, { candle: c.candle, indicators: c.indicators })
    const checks = Operator.takeChecks(p.changes)
    for (const t of accepted) p.work.ticks.push(t)
    for (const g of gaps) p.work.gaps.push(g)
    for (const c of checks) p.work.checks.push(c)
    for (const [key, row] of touched) p.work.candles.set(key, row)
    s.pendingTicks += accepted.length + gaps.length + checks.length + p.work.dead.length - deadBefore
    return Effect.all(
      [
        Metric.set(pendingGauge, s.pendingTicks),
        Metric.incrementBy(ticksProcessed, accepted.length),
        Metric.incrementBy(ticksDeduped, duplicates),
        Effect.forEach(gaps, (g) => Metric.increment(Metric.tagged(gapsTotal, "market", g.market)), { discard: true }),
        accepted.length > 0 || gaps.length > 0 || touched.size > 0
          ? s.cache.offer(live ?? accepted, touched)
          : Effect.void
      ],
      { discard: true }
    )
  })

/**
 * The consumer loop's step for each event, given the processor's `snapshot`: records are handled and checkpointed when
 * a batch is full and the committer is free (waiting for it when too much is pending), the interval checkpoints what
 * there is, a finished commit lets a batch that waited for it go, and revoked partitions are let go.
 */
export const onEvent = (s: Consumption, snapshot: Effect.Effect<void>) => {
  const { batchSize, maxPendingTicks } = s.settings
  /** After each batch: checkpoint when a batch is full and the committer is free; wait for it when too much is pending. */
  const maybeSnapshot = Effect.suspend(() => {
    if (s.pendingTicks >= maxPendingTicks) {
      return Effect.logWarning(
        `${s.pendingTicks} ticks wait for a checkpoint; pausing consumption until Postgres catches up`
      ).pipe(Effect.zipRight(snapshot))
    }
    return s.pendingTicks >= batchSize && !s.committing ? snapshot : Effect.void
  })
  return (e: Event): Effect.Effect<void> => {
    if (e._tag === "Flush") return s.committing ? Effect.void : snapshot
    if (e._tag === "Committed") return s.pendingTicks >= batchSize && !s.committing ? snapshot : Effect.void
    const event = e.event
    switch (event._tag) {
      case "Records":
        return Effect.zipRight(handleRecords(s, event.partition, event.records), maybeSnapshot)
      case "Revoked":
        // Try to keep their progress (the fence refuses it if the new owner already claimed them), then let go.
        return snapshot.pipe(
          Effect.zipRight(s.idle),
          Effect.tap(() => {
            for (const p of event.partitions) s.partitions.delete(p)
          })
        )
      case "Assigned":
        return Effect.void
    }
  }
}
