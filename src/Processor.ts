import { Duration, Effect, Either, Metric, Option, Queue, Schedule, Schema, Stream } from "effect"
import { hostname } from "node:os"
import type { SqlError } from "@effect/sql"
import { Bus, type BusError, type BusRecord, type ConsumerEvent } from "./Bus/Bus.js"
import { AppConfig } from "./Config.js"
import * as Operator from "./Domain/Operator.js"
import { type Tick, TickJson } from "./Domain/Tick.js"
import type { Update } from "./Domain/Update.js"
import { LatestCache } from "./Sinks/LatestCache.js"
import { type CandleRow, Store } from "./Sinks/Postgres.js"

export const ticksProcessed = Metric.counter("ticks_processed_total", { description: "Ticks accepted by the processor", incremental: true })
export const ticksDeduped = Metric.counter("ticks_deduped_total", { description: "Duplicate ticks dropped", incremental: true })
export const ticksLate = Metric.counter("ticks_late_total", { description: "Ticks behind the watermark, sent to the DLQ", incremental: true })
export const recordsDlq = Metric.counter("dlq_records_total", { description: "Records sent to the dead-letter topic", incremental: true })
export const checkpoints = Metric.counter("checkpoints_total", { description: "Checkpoint transactions committed", incremental: true })

const decodeTick = Schema.decodeEither(TickJson)

/** A record that could not be used, with why; published to `<topic>.dlq`. */
interface DeadLetter {
  readonly reason: "decode" | "late"
  readonly detail: string
  readonly record: BusRecord
}

interface Partition {
  readonly state: Operator.OperatorState
  nextOffset: number
}

/** Everything processed since the last checkpoint. */
interface Pending {
  ticks: Array<Tick>
  candles: Map<string, CandleRow>
  dirty: Set<number>
  dead: Array<DeadLetter>
}

const emptyPending = (): Pending => ({ ticks: [], candles: new Map(), dirty: new Set(), dead: [] })

/** Postgres retries with backoff while it is away; processing waits meanwhile (nothing is lost: offsets are not advanced). */
const commitRetry = Schedule.exponential("200 millis").pipe(Schedule.jittered, Schedule.union(Schedule.spaced("10 seconds")))

/**
 * Consume → decode → dedupe → candles and indicators → sinks.
 * Redis (the fast path) is written per batch of records, ahead of the checkpoint and never waited on.
 * Postgres (the record) gets one transaction per checkpoint with the ticks, the touched candles and,
 * per partition, the next offset and the operator state, so a restart resumes exactly where the record ends.
 */
export const run = Effect.gen(function*() {
  const config = yield* AppConfig
  const bus = yield* Bus
  const cache = yield* LatestCache
  const store = yield* Store
  const { topic } = config.topic
  const dlqTopic = `${topic}.dlq`
  const lateness = Duration.toMillis(config.processor.allowedLateness)
  const owner = `${hostname()}/${process.pid}`

  yield* bus.ensureTopic(topic, config.topic.partitions)
  yield* bus.ensureTopic(dlqTopic, 1)

  const partitions = new Map<number, Partition>()
  let pending = emptyPending()

  // The fast path runs in its own fiber behind a sliding queue: a slow or dead Redis never blocks consumption.
  const fastPath = yield* Queue.sliding<{ ticks: ReadonlyArray<Tick>; updates: ReadonlyArray<Update> }>(256)
  let cacheDown = false
  yield* Queue.take(fastPath).pipe(
    Effect.flatMap(({ ticks, updates }) => cache.write(ticks, updates).pipe(Effect.timeout("2 seconds"))),
    Effect.matchEffect({
      onFailure: (e) =>
        cacheDown ? Effect.void : Effect.logWarning(`latest cache write failed; the durable path goes on: ${e.message}`).pipe(
          Effect.tap(() => (cacheDown = true))
        ),
      onSuccess: () => cacheDown ? Effect.logInfo("latest cache writes recovered").pipe(Effect.tap(() => (cacheDown = false))) : Effect.void
    }),
    Effect.forever,
    Effect.forkScoped
  )

  const onAssign = (assigned: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      const saved = yield* store.loadCheckpoints(topic, assigned).pipe(Effect.retry(commitRetry))
      const offsets = new Map<number, number>()
      for (const p of assigned) {
        const checkpoint = saved.get(p)
        const state = checkpoint === undefined
          ? Operator.emptyState()
          : yield* Operator.decodeState(checkpoint.state).pipe(Effect.orDie)
        const nextOffset = checkpoint?.nextOffset ?? 0
        partitions.set(p, { state, nextOffset })
        offsets.set(p, nextOffset)
      }
      yield* Effect.logInfo(`processor: assigned partitions ${assigned.join(",")}, resuming at offsets ${JSON.stringify(Object.fromEntries(offsets))}`)
      return offsets
    })

  const handleRecords = (partition: number, records: ReadonlyArray<BusRecord>) =>
    Effect.gen(function*() {
      const p = partitions.get(partition)
      if (p === undefined) return
      const accepted: Array<Tick> = []
      const updates: Array<Update> = []
      const touched = new Map<string, CandleRow>()
      let duplicates = 0
      for (const record of records) {
        if (record.offset < p.nextOffset) continue // already in the record (a redelivery)
        p.nextOffset = record.offset + 1
        const decoded = decodeTick(record.value)
        if (Either.isLeft(decoded)) {
          pending.dead.push({ reason: "decode", detail: decoded.left.message.slice(0, 2000), record })
          continue
        }
        const tick = decoded.right
        const result = Operator.step(p.state, tick, lateness)
        switch (result._tag) {
          case "Late":
            pending.dead.push({ reason: "late", detail: `event time ${tick.eventTime} is behind the watermark ${result.watermark}`, record })
            break
          case "Duplicate":
            duplicates++
            break
          case "Accepted":
            accepted.push(tick)
            updates.push({ _tag: "tick", tick })
            for (const c of result.candles) touched.set(c.key, { candle: c.candle, indicators: c.indicators })
        }
      }
      pending.dirty.add(partition)
      for (const t of accepted) pending.ticks.push(t)
      for (const [key, row] of touched) {
        pending.candles.set(key, row)
        updates.push({ _tag: "candle", candle: row.candle })
      }
      yield* Metric.incrementBy(ticksProcessed, accepted.length)
      yield* Metric.incrementBy(ticksDeduped, duplicates)
      if (accepted.length > 0) yield* Queue.offer(fastPath, { ticks: accepted, updates })
    })

  const checkpoint = Effect.gen(function*() {
    if (pending.dirty.size === 0) return
    const batch = pending
    if (batch.dead.length > 0) {
      // Before the checkpoint: a crash in between re-sends them (at-least-once), never loses them.
      yield* bus.publish(dlqTopic, batch.dead.map((d) => ({
        key: d.record.key ?? "",
        value: JSON.stringify({ reason: d.reason, detail: d.detail, topic: d.record.topic, partition: d.record.partition, offset: d.record.offset, value: d.record.value })
      }))).pipe(Effect.retry(commitRetry))
      yield* Metric.incrementBy(recordsDlq, batch.dead.length)
      yield* Metric.incrementBy(ticksLate, batch.dead.filter((d) => d.reason === "late").length)
    }
    const owned = [...batch.dirty].flatMap((partition) =>
      Option.toArray(Option.map(Option.fromNullable(partitions.get(partition)), (p) => ({ partition, nextOffset: p.nextOffset, state: p.state })))
    )
    yield* store.commit({ topic, owner, ticks: batch.ticks, candles: [...batch.candles.values()], checkpoints: owned }).pipe(
      Effect.tapError((e) => Effect.logWarning(`checkpoint failed, retrying: ${e.message}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`)),
      Effect.retry(commitRetry)
    )
    pending = emptyPending()
    yield* Metric.increment(checkpoints)
    // Kafka's committed offsets are for lag monitoring only; Postgres holds the truth.
    yield* bus.commitOffsets(topic, config.processor.groupId, owned.map(({ nextOffset, partition }) => ({ partition, offset: nextOffset }))).pipe(
      Effect.ignore
    )
  })

  type Event = { readonly _tag: "Bus"; readonly event: ConsumerEvent } | { readonly _tag: "Flush" }
  const busEvents: Stream.Stream<Event, BusError | SqlError.SqlError> = bus
    .consume({ topic, groupId: config.processor.groupId, onAssign })
    .pipe(
      Stream.map((event): Event => ({ _tag: "Bus", event })),
      // A lost consumer reconnects with backoff; what was processed is checkpointed first, so the
      // re-assignment resumes from exactly there.
      Stream.tapError((e) => Effect.logWarning(`consumer failed, reconnecting: ${e.message}`).pipe(Effect.zipRight(checkpoint))),
      Stream.retry(commitRetry)
    )
  const flushes: Stream.Stream<Event> = Stream.tick(config.processor.checkpointInterval).pipe(Stream.as({ _tag: "Flush" }))

  yield* Effect.logInfo(`processor: consuming ${topic} on the ${bus.kind} bus as ${owner}`)
  yield* Stream.merge(busEvents, flushes, { haltStrategy: "left" }).pipe(
    Stream.runForEach((e) => {
      if (e._tag === "Flush") return checkpoint
      const event = e.event
      switch (event._tag) {
        case "Records":
          return handleRecords(event.partition, event.records).pipe(
            Effect.zipRight(Effect.suspend(() =>
              pending.ticks.length + pending.dead.length >= config.processor.batchSize ? checkpoint : Effect.void
            ))
          )
        case "Revoked":
          return checkpoint.pipe(Effect.tap(() => {
            for (const p of event.partitions) partitions.delete(p)
          }))
        case "Assigned":
          return Effect.void
      }
    }),
    // On shutdown, write what was processed so a restart does not redo it.
    // Bounded: a query stuck on a dead database must not hold up the exit (disconnect: don't wait for its interruption).
    Effect.ensuring(checkpoint.pipe(Effect.disconnect, Effect.timeout("5 seconds"), Effect.ignore))
  )
}).pipe(Effect.annotateLogs({ stage: "processor" }))
