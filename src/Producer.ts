import { Chunk, Duration, Effect, Exit, Fiber, Metric, Queue, Schedule, Stream } from "effect"
import { Bus, type BusError, type BusShape } from "./Bus/Bus.js"
import { AppConfig, venuesOf } from "./Config.js"
import * as Schedules from "./Schedules.js"
import * as Resume from "./Sources/Resume.js"
import * as Sources from "./Sources/Select.js"
import { encodeRecord, recordKey, type SourceRecord } from "./Sources/Source.js"

// == metrics

export const metrics = {
  published: Metric.counter("producer_ticks_published_total", {
    description: "Ticks the bus acknowledged (producer and backfill)",
    incremental: true
  }),
  publishErrors: Metric.counter("producer_publish_errors_total", {
    description: "Failed publish attempts (each is retried; the ticks stay in the buffer)",
    incremental: true
  }),
  buffered: Metric.gauge("producer_buffer_size", {
    description: "Ticks accepted from the source and not yet acknowledged by the bus (at most PRODUCER_BUFFER)"
  })
}

// == the stage

export interface PublishOptions<A extends SourceRecord = SourceRecord> {
  readonly topic: string
  /** Ticks accepted but not yet acknowledged, at most; when reached the source is not pulled until the bus takes some. */
  readonly bufferSize: number
  /** Ticks per publish call. Default 500. */
  readonly maxBatch?: number
  /** Between failed publish attempts of the same batch. Default: `Schedules.publishRetry` (forever). */
  readonly retry?: Schedule.Schedule<unknown, BusError>
  /** On interruption, how long the buffered ticks may still take to reach the bus. Default 5 seconds. */
  readonly drainTimeout?: Duration.DurationInput
  /** Called after each acknowledged batch (in publish order), e.g. for progress. */
  readonly onPublished?: (batch: ReadonlyArray<A>) => Effect.Effect<void>
  /** Logged with "buffer full" and "resumed", e.g. "producer". Default "producer". */
  readonly label?: string
}

/**
 * Ticks (and gap records) → the bus, keyed by market, through a bounded buffer.
 *
 * The source is pulled by one fiber that takes a permit per tick from a semaphore of `bufferSize` permits and
 * enqueues it; one publisher takes up to `maxBatch` queued ticks, publishes them (retrying the same batch, in
 * the same order, until the bus acknowledges it) and only then gives the permits back. So while the bus is down
 * at most `bufferSize` ticks are held (the `producer_buffer_size` gauge), then the source is no longer pulled
 * (a polling source stops polling), nothing accepted is dropped, and everything resumes by itself once a publish
 * succeeds. A single publisher keeps each market's records in source order.
 *
 * When the source ends, it completes once every accepted tick is acknowledged; it fails only when a finite `retry`
 * gives up on a batch. When interrupted, the buffered
 * ticks get `drainTimeout` to reach the bus; whatever is still buffered after that is reported (not silently lost).
 *
 * A publish that fails after the bus wrote part of the batch (Kafka: some partitions) is retried whole: those ticks
 * reach the bus twice, in order, and the processor drops the repeats (same market and trade id, or event time).
 */
export const publishStream = <A extends SourceRecord, E, R>(
  ticks: Stream.Stream<A, E, R>,
  options: PublishOptions<A>
): Effect.Effect<void, E | BusError, R | Bus> =>
  Effect.scoped(
    Effect.gen(function* () {
      const capacity = Math.max(1, Math.floor(options.bufferSize))
      const b = new Buffer(
        options,
        yield* Bus,
        capacity,
        yield* Effect.makeSemaphore(capacity),
        yield* Queue.unbounded<A>()
      )

      // Every series exists from the start (a 0 is something /metrics can alert on; a missing line is not).
      yield* Metric.incrementBy(metrics.publishErrors, 0)
      yield* Metric.incrementBy(metrics.published, 0)

      const publishing = yield* Effect.forkScoped(publisher(b))
      // Runs before the publisher is interrupted (finalizers run last-added first).
      yield* Effect.addFinalizer((exit) => (Exit.isInterrupted(exit) && b.held > 0 ? drain(b) : Effect.void))

      const intake = Stream.runForEachChunk(ticks, (chunk) => accept(b, chunk)).pipe(
        // The source ended: done once the buffer is empty (all permits back).
        Effect.zipRight(b.permits.take(capacity)),
        Effect.zipRight(b.permits.release(capacity))
      )
      // The publisher only stops by failing, when a finite `retry` gives up.
      yield* Effect.raceFirst(intake, Fiber.join(publishing))
    })
  )

/** What the intake and the publisher share: the ticks held (accepted, not yet acknowledged) and their permits. */
class Buffer<A extends SourceRecord> {
  held = 0
  full = false
  readonly maxBatch: number
  readonly retry: Schedule.Schedule<unknown, BusError>
  readonly label: string

  constructor(
    readonly options: PublishOptions<A>,
    readonly bus: BusShape,
    readonly capacity: number,
    readonly permits: Effect.Semaphore,
    readonly queue: Queue.Queue<A>
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 500)
    this.retry = options.retry ?? Schedules.publishRetry
    this.label = options.label ?? "producer"
  }
}

const addHeld = <A extends SourceRecord>(b: Buffer<A>, delta: number) =>
  Effect.suspend(() => {
    b.held += delta
    return Metric.set(metrics.buffered, b.held)
  })

const publishBatch = <A extends SourceRecord>(b: Buffer<A>, batch: ReadonlyArray<A>) => {
  const { label } = b
  const messages = batch.map((record) => ({ key: recordKey(record), value: encodeRecord(record) }))
  let failures = 0
  return b.bus.publish(b.options.topic, messages).pipe(
    Effect.tapError((e) =>
      Effect.suspend(() => {
        failures += 1
        const log =
          failures === 1 || failures % 10 === 0
            ? Effect.logWarning(
                `${label}: publish of ${batch.length} ticks failed (attempt ${failures}), retrying; ` +
                  `${b.held} ticks buffered: ${e.message}`
              )
            : Effect.logDebug(`${label}: publish failed again (attempt ${failures}): ${e.message}`)
        return Effect.zipRight(Metric.increment(metrics.publishErrors), log)
      })
    ),
    Effect.retry(b.retry),
    Effect.tap(() =>
      failures > 0
        ? Effect.logInfo(`${label}: the bus takes ticks again after ${failures} failed attempts`)
        : Effect.void
    )
  )
}

const publisher = <A extends SourceRecord>(b: Buffer<A>) =>
  Effect.forever(
    Effect.gen(function* () {
      // Waits for one tick, then takes whatever else is already queued.
      const first = yield* Queue.take(b.queue)
      const batch = [first, ...Chunk.toReadonlyArray(yield* Queue.takeUpTo(b.queue, b.maxBatch - 1))]
      yield* publishBatch(b, batch)
      yield* Metric.incrementBy(metrics.published, batch.length)
      yield* addHeld(b, -batch.length)
      yield* b.permits.release(batch.length)
      if (b.options.onPublished !== undefined) yield* b.options.onPublished(batch)
      if (b.full && b.held < b.capacity) {
        b.full = false
        yield* Effect.logInfo(`${b.label}: buffer below ${b.capacity} ticks again; pulling the source`)
      }
    })
  )

/** Takes permits for `n` ticks (n ≤ capacity); says so once when it has to wait. */
const admit = <A extends SourceRecord>(b: Buffer<A>, n: number) =>
  Effect.gen(function* () {
    if (b.held + n > b.capacity && !b.full) {
      b.full = true
      yield* Effect.logWarning(
        `${b.label}: buffer full (${b.held} of ${b.capacity} ticks waiting for the bus): ` +
          "the source is not pulled until the bus takes them"
      )
    }
    yield* b.permits.take(n)
  })

// Once the permits are taken the ticks are accepted: counting and enqueueing them is not interruptible.
const accept = <A extends SourceRecord>(b: Buffer<A>, chunk: Chunk.Chunk<A>) =>
  Effect.gen(function* () {
    const all = Chunk.toReadonlyArray(chunk)
    for (let i = 0; i < all.length; i += b.capacity) {
      const slice = all.slice(i, i + b.capacity)
      yield* Effect.uninterruptibleMask((restore) =>
        restore(admit(b, slice.length)).pipe(
          Effect.zipRight(addHeld(b, slice.length)),
          Effect.zipRight(Queue.offerAll(b.queue, slice))
        )
      )
    }
  })

/** On interruption, the buffered ticks get `drainTimeout` to reach the bus; what is left is reported. */
const drain = <A extends SourceRecord>(b: Buffer<A>) =>
  // Finalizers run uninterruptibly: the wait itself must be interruptible for the timeout to end it.
  Effect.interruptible(b.permits.take(b.capacity)).pipe(
    Effect.timeout(b.options.drainTimeout ?? Duration.seconds(5)),
    Effect.matchEffect({
      onSuccess: () => Effect.logInfo(`${b.label}: stopping: every accepted tick is on the bus`),
      onFailure: () =>
        Effect.logWarning(
          `${b.label}: stopping: ${b.held} accepted ticks did not reach the bus in time and are not published`
        )
    })
  )

/** Sources → bus, keyed by market. Runs until interrupted (or until a finite source, like a replay, is published). */
export const runWith = (config: AppConfig) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    yield* bus.ensureTopic(config.topic.topic, config.topic.partitions)
    // A restarted producer goes on where the topic left off: each live venue market fills what it missed from REST.
    const live = new Set<string>(venuesOf(config.source.sources))
    const lastIds = yield* Resume.lastIdsOnTopic({
      topic: config.topic.topic,
      markets: config.source.markets.filter((m) => live.has(m.slice(0, m.indexOf(":")))),
      timeout: "30 seconds"
    }).pipe(
      // A topic just made may not have its leaders yet: retried a while, then the sources start at the live edge.
      Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 6 }),
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logWarning(`producer: cannot read where the topic left off (${e.message}); venues start live`),
          new Map()
        )
      )
    )
    if (lastIds.size > 0)
      yield* Effect.logInfo(`producer: ${lastIds.size} venue markets resume where the topic left off`)
    const history = yield* wantsHistory(bus, config)
    const records = yield* Sources.fromConfig(config.source, lastIds, { history })
    const venues = config.source.markets.length === 0 ? "" : `, ${config.source.markets.length} venue markets`
    yield* Effect.logInfo(
      `producer: publishing ${config.source.sources.map(Sources.describe).join(", ")}${venues} to ${config.topic.topic} ` +
        `on the ${bus.kind} bus (buffer up to ${config.producer.bufferSize} records while it is away)`
    )
    yield* publishStream(records, { topic: config.topic.topic, bufferSize: config.producer.bufferSize })
  }).pipe(Effect.annotateLogs({ stage: "producer" }))

/**
 * The simulator's day of history (HISTORY, default on): only on a topic that holds nothing yet (a fresh DATA_DIR),
 * so a restart never publishes it again; published through the topic, so the same processor builds its candles.
 */
const wantsHistory = (bus: BusShape, config: AppConfig) =>
  Effect.gen(function* () {
    const simulated = config.source.sources.some((s) => s._tag === "simulator" || s._tag === "auto")
    if (!config.source.history || !simulated) return false
    const ends = yield* bus.endOffsets(config.topic.topic)
    if ([...ends.values()].some((n) => n > 0)) return false
    const { spanMs, spacingMs } = Sources.simulatorHistory
    yield* Effect.logInfo(
      `producer: the topic is empty: a simulator source first publishes ${spanMs / 3_600_000} h of history, a tick per coin ` +
        `every ${spacingMs / 1000} s, oldest first (HISTORY=0 turns this off)`
    )
    return true
  })

/** The producer as the environment configures it. */
export const run = Effect.flatMap(AppConfig, runWith)
