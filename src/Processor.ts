import { hostname } from "node:os"
import type { SqlError } from "@effect/sql"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Fiber,
  Metric,
  MetricBoundaries,
  Queue,
  Schedule,
  Stream
} from "effect"
import { Bus, BusError, type BusRecord, type ConsumerEvent } from "./Bus/Bus.js"
import { AppConfig } from "./Config.js"
import * as Operator from "./Domain/Operator.js"
import { decodeTick, type Tick } from "./Domain/Tick.js"
import type { Update } from "./Domain/Update.js"
import { LatestCache } from "./Sinks/LatestCache.js"
import { type CandleRow, type DeadLetterRow, type PartitionCheckpoint, Store } from "./Sinks/Postgres.js"

export const ticksProcessed = Metric.counter("ticks_processed_total", {
  description: "Ticks accepted by the processor",
  incremental: true
})
export const ticksDeduped = Metric.counter("ticks_deduped_total", {
  description: "Duplicate ticks dropped",
  incremental: true
})
export const ticksLate = Metric.counter("ticks_late_total", {
  description: "Ticks behind the watermark, sent to the DLQ",
  incremental: true
})
export const recordsDlq = Metric.counter("dlq_records_total", {
  description: "Records sent to the dead-letter topic",
  incremental: true
})
export const checkpoints = Metric.counter("checkpoints_total", {
  description: "Checkpoint transactions committed",
  incremental: true
})
export const checkpointSeconds = Metric.histogram(
  "checkpoint_duration_seconds",
  MetricBoundaries.exponential({ start: 0.002, factor: 2, count: 14 }),
  "Time to commit one checkpoint transaction"
)
export const consumerLag = Metric.gauge("consumer_lag_records", {
  description: "Records in the log not yet checkpointed, per partition"
})
export const pendingGauge = Metric.gauge("processor_pending_ticks", {
  description: "Processed ticks waiting for a checkpoint"
})
export const fencedOut = Metric.counter("checkpoints_fenced_total", {
  description: "Checkpoints refused because a newer owner holds the partition",
  incremental: true
})

export const cacheUpdatesDropped = Metric.counter("cache_updates_dropped_total", {
  description: "Live updates that never reached the cache: its writer fell too far behind, or the write failed",
  incremental: true
})

/** A record that could not be used, with why; published to `<topic>.dlq`. */
interface DeadLetter {
  readonly reason: "decode" | "late" | "future"
  readonly detail: string
  readonly record: BusRecord
}

// Kafka refuses a produce request over its max message size (1 MiB by default): each dead letter stays under
// 512 KiB encoded, and they are sent in batches of at most 768 KiB.
const deadLimit = 256 * 1024
const deadLetterLimit = 512 * 1024
const deadBatchLimit = 768 * 1024

/** The dead letter as JSON: the reason and where the record was, with its bytes exactly (base64 when not UTF-8 text). */
const encodeDeadLetter = (d: DeadLetter): string => {
  const where = {
    reason: d.reason,
    detail: d.detail,
    topic: d.record.topic,
    partition: d.record.partition,
    offset: d.record.offset
  }
  if (d.record.raw === undefined) {
    const whole = JSON.stringify({ ...where, value: d.record.value })
    if (whole.length <= deadLetterLimit) return whole
  }
  // Binary, or too big once escaped: base64 of the bytes, the first 256 KiB of them if there are more.
  const bytes = d.record.raw ?? Buffer.from(d.record.value, "utf8")
  const truncated = bytes.length > deadLimit
  return JSON.stringify({
    ...where,
    valueBase64: Buffer.from(truncated ? bytes.subarray(0, deadLimit) : bytes).toString("base64"),
    ...(truncated ? { truncated: true, originalBytes: bytes.length } : {})
  })
}

const sizedBatches = <A extends { readonly value: string }>(
  items: ReadonlyArray<A>,
  limit: number
): Array<Array<A>> => {
  const out: Array<Array<A>> = []
  let current: Array<A> = []
  let size = 0
  for (const item of items) {
    if (current.length > 0 && size + item.value.length > limit) {
      out.push(current)
      current = []
      size = 0
    }
    current.push(item)
    size += item.value.length
  }
  if (current.length > 0) out.push(current)
  return out
}

type Event =
  | { readonly _tag: "Bus"; readonly event: ConsumerEvent }
  | { readonly _tag: "Flush" }
  /** A checkpoint transaction finished: the committer is free again. */
  | { readonly _tag: "Committed" }

/** Work done on a partition since its last snapshot. */
interface Work {
  ticks: Array<Tick>
  candles: Map<string, CandleRow>
  dead: Array<DeadLetter>
}
const noWork = (): Work => ({ ticks: [], candles: new Map(), dead: [] })

interface Partition {
  readonly epoch: number
  readonly state: Operator.OperatorState
  /** Candles changed by the records being handled (collected at the end of each batch). */
  readonly changes: Operator.Changes
  nextOffset: number
  /** The offset the last snapshot covered; a partition with nothing new has nothing to checkpoint. */
  snapshotOffset: number
  work: Work
}

interface Snapshot {
  /** Each dead letter also carries its record's key, for the DLQ topic. */
  readonly partitions: ReadonlyArray<
    PartitionCheckpoint & { readonly deadLetters: ReadonlyArray<DeadLetterRow & { readonly key: string }> }
  >
}

/** Postgres (and the DLQ) retried with backoff while away; nothing is lost meanwhile: offsets only advance with a commit. */
const retrySchedule = (max: Duration.Duration) =>
  Schedule.exponential(Duration.min(Duration.millis(200), max)).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(max))
  )

/**
 * Consume → decode → dedupe → candles and indicators → sinks.
 *
 * - The fast path (cache: latest + live updates) is written by its own fiber, which takes everything waiting at once,
 *   coalesced (see below): a slow or dead Redis never blocks anything.
 * - The durable path: when `BATCH_SIZE` ticks are pending or `CHECKPOINT_INTERVAL` passed, the work is snapshotted
 *   (ticks, touched candles, and per partition the next offset and the serialised operator state) and committed in
 *   one Postgres transaction by a committer fiber, fenced by the partition's epoch; a full batch that waited for the
 *   committer goes as soon as it is free. Consumption goes on meanwhile,
 *   so a Postgres outage leaves the fast path live, until `MAX_PENDING_TICKS` are waiting: then it stops consuming.
 * - On assignment a partition is claimed (epoch + 1) and resumes from its checkpoint: a restart replays, never loses.
 */
export const run = Effect.gen(function* () {
  const config = yield* AppConfig
  const bus = yield* Bus
  const cache = yield* LatestCache
  const store = yield* Store
  const { topic } = config.topic
  const dlqTopic = `${topic}.dlq`
  const lateness = Duration.toMillis(config.processor.allowedLateness)
  const maxFutureSkew = Duration.toMillis(config.processor.maxFutureSkew)
  const owner = `${hostname()}/${process.pid}`
  const retry = retrySchedule(config.processor.retryMaxDelay)

  yield* bus.ensureTopic(topic, config.topic.partitions)
  yield* bus.ensureTopic(dlqTopic, 1)

  const partitions = new Map<number, Partition>()
  let pendingTicks = 0

  // == fast path
  // What waits for the cache writer, coalesced: the latest tick per symbol (SETEX), each candle's newest values, and the
  // tick updates to PUBLISH in order. The writer takes it all at once, so a slow cache means bigger writes, not a
  // backlog; only tick updates can pile up, and past `maxPendingUpdates` the oldest are dropped. Updates that never
  // reach the cache (dropped so, or in a failed write) are counted in `cache_updates_dropped_total`.
  const maxPendingUpdates = 20_000
  let pendingLatest = new Map<string, Tick>()
  let pendingTickUpdates: Array<Update> = []
  let pendingCandles = new Map<string, Update>()
  const wake = yield* Queue.sliding<true>(1)
  const toCache = (ticks: ReadonlyArray<Tick>, candles: ReadonlyMap<string, CandleRow>) =>
    Effect.suspend(() => {
      for (const tick of ticks) {
        pendingLatest.set(tick.symbol, tick)
        pendingTickUpdates.push({ _tag: "tick", tick })
      }
      for (const [key, row] of candles) pendingCandles.set(key, { _tag: "candle", candle: row.candle })
      const over = pendingTickUpdates.length - maxPendingUpdates
      if (over > 0) pendingTickUpdates.splice(0, over)
      return Effect.zipRight(
        over > 0 ? Metric.incrementBy(cacheUpdatesDropped, over) : Effect.void,
        Queue.offer(wake, true)
      )
    })
  let cacheDown = false
  const writeCache = Effect.suspend(() => {
    const ticks = [...pendingLatest.values()]
    const updates = pendingTickUpdates.concat([...pendingCandles.values()])
    pendingLatest = new Map()
    pendingTickUpdates = []
    pendingCandles = new Map()
    return cache.write(ticks, updates).pipe(
      Effect.timeout("2 seconds"),
      Effect.matchEffect({
        onFailure: (e) =>
          Metric.incrementBy(cacheUpdatesDropped, updates.length).pipe(
            Effect.zipRight(
              cacheDown
                ? Effect.void
                : Effect.logWarning(`latest cache write failed; the durable path goes on: ${e.message}`)
            ),
            Effect.tap(() => (cacheDown = true))
          ),
        onSuccess: () =>
          cacheDown
            ? Effect.logInfo("latest cache writes recovered").pipe(Effect.tap(() => (cacheDown = false)))
            : Effect.void
      })
    )
  })
  yield* Queue.take(wake).pipe(Effect.zipRight(writeCache), Effect.forever, Effect.forkScoped)

  // == durable path
  const commitSnapshot = (snapshot: Snapshot): Effect.Effect<void> =>
    Effect.gen(function* () {
      const dead = snapshot.partitions.flatMap((p) => p.deadLetters)
      if (dead.length > 0) {
        // Before the checkpoint: a crash in between re-sends them (at-least-once), never loses them. The checkpoint
        // itself records them in Postgres exactly once.
        const letters = dead.map((d) => ({ key: d.key, value: d.letter }))
        for (const batch of sizedBatches(letters, deadBatchLimit)) {
          yield* bus.publish(dlqTopic, batch).pipe(
            Effect.tapError((e) => Effect.logWarning(`DLQ publish failed, retrying: ${e.message}`)),
            Effect.retry(retry),
            Effect.orDie // the schedule never ends
          )
        }
        yield* Metric.incrementBy(recordsDlq, dead.length)
        yield* Metric.incrementBy(ticksLate, dead.filter((d) => d.reason === "late").length)
      }
      let remaining = snapshot.partitions
      const started = yield* Clock.currentTimeMillis
      while (remaining.length > 0) {
        const result = yield* store.commit({ topic, owner, partitions: remaining }).pipe(
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
        yield* Effect.logWarning(
          `partitions ${[...lost].join(",")} have a newer owner; dropping their uncommitted work`
        )
        yield* Metric.incrementBy(fencedOut, lost.size)
        let dropped = false
        for (const p of lost) {
          const held = partitions.get(p)
          if (held !== undefined && snapshot.partitions.some((s) => s.partition === p && s.epoch === held.epoch)) {
            partitions.delete(p)
            dropped = true
          }
        }
        // The newer claim may be a stale one that landed late (a retried or delayed claim after a rebalance), with
        // the bus still assigning the partition here: rejoin, so whoever the group gives it to claims it afresh.
        if (dropped && rejoin !== undefined)
          yield* Deferred.fail(
            rejoin,
            new BusError({ reason: "consume", message: "a partition was fenced; rejoining" })
          )
        remaining = remaining.filter((p) => !lost.has(p.partition))
      }
      yield* Metric.increment(checkpoints)
      const millis = (yield* Clock.currentTimeMillis) - started
      yield* Metric.update(checkpointSeconds, millis / 1000)
      yield* Effect.logDebug(
        `checkpoint: ${remaining.reduce((n, p) => n + p.ticks.length, 0)} ticks, ${remaining.reduce((n, p) => n + p.candles.length, 0)} candles, ` +
          `${remaining.length} partitions, ${remaining.reduce((n, p) => n + p.state.length, 0)} bytes of state in ${millis} ms`
      )
      yield* recordLag
      // Kafka's committed offsets are for lag monitoring only; Postgres holds the truth.
      yield* bus
        .commitOffsets(
          topic,
          config.processor.groupId,
          remaining.map(({ nextOffset, partition }) => ({ partition, offset: nextOffset }))
        )
        .pipe(Effect.ignore)
    })

  // Lag per partition after a checkpoint, at most once a second (it costs the broker a request).
  let lagAt = 0
  const recordLag = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    if (now - lagAt < 1000) return
    lagAt = now
    const ends = yield* bus.endOffsets(topic)
    for (const [partition, p] of partitions) {
      yield* Metric.set(
        Metric.tagged(consumerLag, "partition", String(partition)),
        Math.max(0, (ends.get(partition) ?? 0) - p.snapshotOffset)
      )
    }
  }).pipe(Effect.ignore)

  let inflight: Fiber.RuntimeFiber<void> | undefined
  let committing = false
  const committed = yield* Queue.sliding<Event>(1)
  const idle = Effect.suspend(() => (inflight === undefined ? Effect.void : Fiber.join(inflight)))

  /** Hands the work so far to the committer (after the previous commit finished) and starts afresh. */
  const snapshot = Effect.gen(function* () {
    yield* idle
    const taken: Array<Snapshot["partitions"][number]> = []
    for (const [partition, p] of partitions) {
      if (p.nextOffset === p.snapshotOffset) continue
      taken.push({
        partition,
        epoch: p.epoch,
        nextOffset: p.nextOffset,
        state: Operator.encodeState(p.state),
        ticks: p.work.ticks,
        candles: [...p.work.candles.values()],
        deadLetters: p.work.dead.map((d) => ({
          offset: d.record.offset,
          reason: d.reason,
          key: d.record.key ?? "",
          letter: encodeDeadLetter(d)
        }))
      })
      p.snapshotOffset = p.nextOffset
      p.work = noWork()
    }
    pendingTicks = 0
    yield* Metric.set(pendingGauge, 0)
    if (taken.length === 0) return
    committing = true
    inflight = yield* Effect.forkDaemon(
      commitSnapshot({ partitions: taken }).pipe(
        // Tell the consumer loop: what piled up meanwhile is checkpointed next, not at the next interval.
        Effect.ensuring(
          Effect.suspend(() => {
            committing = false
            return Queue.offer(committed, { _tag: "Committed" })
          })
        )
      )
    )
  })
  const committerBusy = () => committing

  // == consumption
  const onAssign = (assigned: ReadonlyArray<number>) =>
    Effect.gen(function* () {
      const claims = yield* store.claim(topic, assigned, owner).pipe(
        Effect.tapError((e) => Effect.logWarning(`could not claim partitions, retrying: ${e.message}`)),
        Effect.retry(retry)
      )
      const offsets = new Map<number, number>()
      for (const [partition, claim] of claims) {
        const state =
          claim.state === null ? Operator.emptyState() : yield* Operator.decodeState(claim.state).pipe(Effect.orDie)
        partitions.set(partition, {
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

  const handleRecords = (partition: number, records: ReadonlyArray<BusRecord>) =>
    Effect.suspend(() => {
      const p = partitions.get(partition)
      if (p === undefined) return Effect.void
      const accepted: Array<Tick> = []
      let duplicates = 0
      const deadBefore = p.work.dead.length
      for (const record of records) {
        if (record.offset < p.nextOffset) continue // already in the record (a redelivery)
        p.nextOffset = record.offset + 1
        const decoded = decodeTick(record.value)
        if (Either.isLeft(decoded)) {
          p.work.dead.push({ reason: "decode", detail: decoded.left.message.slice(0, 2000), record })
          continue
        }
        const tick = decoded.right
        // A clock far ahead would drag the watermark along and make every honest tick after it "late". Judged
        // against the record's own timestamp, not now, so a replay decides the same way.
        if (tick.eventTime > record.timestamp + maxFutureSkew) {
          p.work.dead.push({
            reason: "future",
            detail: `event time ${tick.eventTime} is more than ${maxFutureSkew} ms after the record's timestamp ${record.timestamp}`,
            record
          })
          continue
        }
        const verdict = Operator.accept(p.state, tick, lateness, p.changes)
        switch (verdict._tag) {
          case "Late":
            p.work.dead.push({
              reason: "late",
              detail: `event time ${tick.eventTime} is behind the watermark ${verdict.watermark}`,
              record
            })
            break
          case "Duplicate":
            duplicates++
            break
          case "Accepted":
            accepted.push(tick)
        }
      }
      // The changed candles once per batch, with their values after its last tick.
      const touched = new Map<string, CandleRow>()
      for (const c of Operator.collect(p.state, p.changes))
        touched.set(c.key, { candle: c.candle, indicators: c.indicators })
      for (const t of accepted) p.work.ticks.push(t)
      for (const [key, row] of touched) p.work.candles.set(key, row)
      pendingTicks += accepted.length + p.work.dead.length - deadBefore
      return Effect.all(
        [
          Metric.set(pendingGauge, pendingTicks),
          Metric.incrementBy(ticksProcessed, accepted.length),
          Metric.incrementBy(ticksDeduped, duplicates),
          accepted.length > 0 ? toCache(accepted, touched) : Effect.void
        ],
        { discard: true }
      )
    })

  /** After each batch: checkpoint when a batch is full and the committer is free; wait for it when too much is pending. */
  const maybeSnapshot = Effect.suspend(() => {
    if (pendingTicks >= config.processor.maxPendingTicks) {
      return Effect.logWarning(
        `${pendingTicks} ticks wait for a checkpoint; pausing consumption until Postgres catches up`
      ).pipe(Effect.zipRight(snapshot))
    }
    return pendingTicks >= config.processor.batchSize && !committerBusy() ? snapshot : Effect.void
  })

  let rejoin: Deferred.Deferred<never, BusError> | undefined
  const busEvents: Stream.Stream<Event, BusError | SqlError.SqlError> = Stream.unwrap(
    Effect.map(Deferred.make<never, BusError>(), (d) => {
      rejoin = d
      return bus
        .consume({ topic, groupId: config.processor.groupId, onAssign })
        .pipe(Stream.interruptWhen(Deferred.await(d)))
    })
  ).pipe(
    Stream.map((event): Event => ({ _tag: "Bus", event })),
    // A lost consumer reconnects with backoff; its partitions are claimed afresh from their checkpoints.
    Stream.tapError((e) =>
      Effect.logWarning(`consumer failed, reconnecting: ${e.message}`).pipe(
        Effect.zipRight(snapshot),
        Effect.zipRight(idle)
      )
    ),
    Stream.retry(retry)
  )
  const flushes: Stream.Stream<Event> = Stream.tick(config.processor.checkpointInterval).pipe(
    Stream.as({ _tag: "Flush" })
  )

  yield* Effect.logInfo(`processor: consuming ${topic} on the ${bus.kind} bus as ${owner}`)
  yield* Stream.merge(busEvents, Stream.merge(flushes, Stream.fromQueue(committed)), { haltStrategy: "left" }).pipe(
    Stream.runForEach((e) => {
      if (e._tag === "Flush") return committerBusy() ? Effect.void : snapshot
      if (e._tag === "Committed")
        return pendingTicks >= config.processor.batchSize && !committerBusy() ? snapshot : Effect.void
      const event = e.event
      switch (event._tag) {
        case "Records":
          return Effect.zipRight(handleRecords(event.partition, event.records), maybeSnapshot)
        case "Revoked":
          // Try to keep their progress (the fence refuses it if the new owner already claimed them), then let go.
          return snapshot.pipe(
            Effect.zipRight(idle),
            Effect.tap(() => {
              for (const p of event.partitions) partitions.delete(p)
            })
          )
        case "Assigned":
          return Effect.void
      }
    }),
    // On shutdown, commit what was processed so a restart does not redo it; bounded, and without waiting on a
    // query stuck on a dead database (disconnect).
    Effect.ensuring(snapshot.pipe(Effect.zipRight(idle), Effect.disconnect, Effect.timeout("5 seconds"), Effect.ignore))
  )
}).pipe(Effect.annotateLogs({ stage: "processor" }))
