import { Chunk, Duration, Effect, Exit, Fiber, Metric, Queue, type Schedule, Schema, Stream } from "effect"
import { Bus, type BusError } from "./Bus/Bus.js"
import { AppConfig } from "./Config.js"
import { type Tick, TickJson } from "./Domain/Tick.js"
import * as Schedules from "./Schedules.js"
import * as Sources from "./Sources/index.js"

const encodeTick = Schema.encodeSync(TickJson)

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

export interface PublishOptions {
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
  readonly onPublished?: (batch: ReadonlyArray<Tick>) => Effect.Effect<void>
  /** Logged with "buffer full" and "resumed", e.g. "producer". Default "producer". */
  readonly label?: string
}

/**
 * Ticks → the bus, keyed by symbol, through a bounded buffer.
 *
 * The source is pulled by one fiber that takes a permit per tick from a semaphore of `bufferSize` permits and
 * enqueues it; one publisher takes up to `maxBatch` queued ticks, publishes them (retrying the same batch, in
 * the same order, until the bus acknowledges it) and only then gives the permits back. So while the bus is down
 * at most `bufferSize` ticks are held (the `producer_buffer_size` gauge), then the source is no longer pulled
 * (a polling source stops polling), nothing accepted is dropped, and everything resumes by itself once a publish
 * succeeds. A single publisher keeps each symbol's ticks in source order.
 *
 * When the source ends, it completes once every accepted tick is acknowledged; it fails only when a finite `retry`
 * gives up on a batch. When interrupted, the buffered
 * ticks get `drainTimeout` to reach the bus; whatever is still buffered after that is reported (not silently lost).
 *
 * A publish that fails after the bus wrote part of the batch (Kafka: some partitions) is retried whole: those ticks
 * reach the bus twice, in order, and the processor drops the repeats (same symbol, source and event time).
 */
export const publishStream = <E, R>(
  ticks: Stream.Stream<Tick, E, R>,
  options: PublishOptions
): Effect.Effect<void, E | BusError, R | Bus> =>
  Effect.scoped(
    Effect.gen(function* () {
      const bus = yield* Bus
      const capacity = Math.max(1, Math.floor(options.bufferSize))
      const maxBatch = Math.max(1, options.maxBatch ?? 500)
      const retry = options.retry ?? Schedules.publishRetry
      const label = options.label ?? "producer"
      const permits = yield* Effect.makeSemaphore(capacity)
      const queue = yield* Queue.unbounded<Tick>()
      let held = 0
      let full = false

      const addHeld = (delta: number) =>
        Effect.suspend(() => {
          held += delta
          return Metric.set(metrics.buffered, held)
        })

      const publishBatch = (batch: ReadonlyArray<Tick>) => {
        const messages = batch.map((tick) => ({ key: tick.symbol, value: encodeTick(tick) }))
        let failures = 0
        return bus.publish(options.topic, messages).pipe(
          Effect.tapError((e) =>
            Effect.suspend(() => {
              failures += 1
              const log =
                failures === 1 || failures % 10 === 0
                  ? Effect.logWarning(
                      `${label}: publish of ${batch.length} ticks failed (attempt ${failures}), retrying; ${held} ticks buffered: ${e.message}`
                    )
                  : Effect.logDebug(`${label}: publish failed again (attempt ${failures}): ${e.message}`)
              return Effect.zipRight(Metric.increment(metrics.publishErrors), log)
            })
          ),
          Effect.retry(retry),
          Effect.tap(() =>
            failures > 0
              ? Effect.logInfo(`${label}: the bus takes ticks again after ${failures} failed attempts`)
              : Effect.void
          )
        )
      }

      const publisher = Effect.forever(
        Effect.gen(function* () {
          // Waits for one tick, then takes whatever else is already queued.
          const first = yield* Queue.take(queue)
          const batch = [first, ...Chunk.toReadonlyArray(yield* Queue.takeUpTo(queue, maxBatch - 1))]
          yield* publishBatch(batch)
          yield* Metric.incrementBy(metrics.published, batch.length)
          yield* addHeld(-batch.length)
          yield* permits.release(batch.length)
          if (options.onPublished !== undefined) yield* options.onPublished(batch)
          if (full && held < capacity) {
            full = false
            yield* Effect.logInfo(`${label}: buffer below ${capacity} ticks again; pulling the source`)
          }
        })
      )

      /** Takes permits for `n` ticks (n ≤ capacity); says so once when it has to wait. */
      const admit = (n: number) =>
        Effect.gen(function* () {
          if (held + n > capacity && !full) {
            full = true
            yield* Effect.logWarning(
              `${label}: buffer full (${held} of ${capacity} ticks waiting for the bus): the source is not pulled until the bus takes them`
            )
          }
          yield* permits.take(n)
        })

      // Once the permits are taken the ticks are accepted: counting and enqueueing them is not interruptible.
      const accept = (chunk: Chunk.Chunk<Tick>) =>
        Effect.gen(function* () {
          const all = Chunk.toReadonlyArray(chunk)
          for (let i = 0; i < all.length; i += capacity) {
            const slice = all.slice(i, i + capacity)
            yield* Effect.uninterruptibleMask((restore) =>
              restore(admit(slice.length)).pipe(
                Effect.zipRight(addHeld(slice.length)),
                Effect.zipRight(Queue.offerAll(queue, slice))
              )
            )
          }
        })

      // Every series exists from the start (a 0 is something /metrics can alert on; a missing line is not).
      yield* Metric.incrementBy(metrics.publishErrors, 0)
      yield* Metric.incrementBy(metrics.published, 0)

      const publishing = yield* Effect.forkScoped(publisher)
      // Runs before the publisher is interrupted (finalizers run last-added first).
      yield* Effect.addFinalizer((exit) =>
        Exit.isInterrupted(exit) && held > 0
          ? // Finalizers run uninterruptibly: the wait itself must be interruptible for the timeout to end it.
            Effect.interruptible(permits.take(capacity)).pipe(
              Effect.timeout(options.drainTimeout ?? Duration.seconds(5)),
              Effect.matchEffect({
                onSuccess: () => Effect.logInfo(`${label}: stopping: every accepted tick is on the bus`),
                onFailure: () =>
                  Effect.logWarning(
                    `${label}: stopping: ${held} accepted ticks did not reach the bus in time and are not published`
                  )
              })
            )
          : Effect.void
      )

      const intake = Stream.runForEachChunk(ticks, accept).pipe(
        // The source ended: done once the buffer is empty (all permits back).
        Effect.zipRight(permits.take(capacity)),
        Effect.zipRight(permits.release(capacity))
      )
      // The publisher only stops by failing, when a finite `retry` gives up.
      yield* Effect.raceFirst(intake, Fiber.join(publishing))
    })
  )

/** Source → bus, keyed by symbol. Runs until interrupted (or until a finite source, like a replay, is published). */
export const run = Effect.gen(function* () {
  const config = yield* AppConfig
  const bus = yield* Bus
  yield* bus.ensureTopic(config.topic.topic, config.topic.partitions)
  const ticks = yield* Sources.fromConfig(config.source)
  yield* Effect.logInfo(
    `producer: publishing to ${config.topic.topic} on the ${bus.kind} bus (buffer up to ${config.producer.bufferSize} ticks while it is away)`
  )
  yield* publishStream(ticks, { topic: config.topic.topic, bufferSize: config.producer.bufferSize })
}).pipe(Effect.annotateLogs({ stage: "producer" }))
