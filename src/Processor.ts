import type { SqlError } from "@effect/sql"
import { Deferred, Effect, Queue, Stream } from "effect"
import { Bus, type BusError } from "./Bus/Bus.js"
import { AppConfig } from "./Config.js"
import * as CacheWriter from "./Processor/CacheWriter.js"
import * as Checkpoint from "./Processor/Checkpoint.js"
import { claim, claimChecked, onEvent } from "./Processor/Consume.js"
import { Consumption, type Event, settingsOf } from "./Processor/State.js"
import { type PartitionsChanged, Store } from "./Store/Store.js"

export * from "./Processor/Metrics.js"

/**
 * Consume → decode → dedupe → candles and indicators → sinks.
 *
 * - The fast path (cache: latest + live updates) is written by its own fiber, which takes everything waiting at once,
 *   coalesced (Processor/CacheWriter.ts): a slow or dead Redis never blocks anything.
 * - The durable path: when `BATCH_SIZE` ticks are pending or `CHECKPOINT_INTERVAL` passed, the work is snapshotted
 *   (ticks, touched candles, and per partition the next offset and the serialised operator state) and committed in
 *   one Postgres transaction by a committer fiber, fenced by the partition's epoch; a full batch that waited for the
 *   committer goes as soon as it is free (Processor/Checkpoint.ts). Consumption goes on meanwhile,
 *   so a Postgres outage leaves the fast path live, until `MAX_PENDING_TICKS` are waiting: then it stops consuming.
 * - On assignment a partition is claimed (epoch + 1) and resumes from its checkpoint: a restart replays, never loses
 *   (Processor/Consume.ts). The loop, the committer and the claims share one `Consumption` (Processor/State.ts).
 */
export const runWith = (config: AppConfig) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const store = yield* Store
    const settings = settingsOf(config)
    const { topic, dlqTopic, groupId, owner, retry } = settings

    yield* bus.ensureTopic(topic, config.topic.partitions)
    yield* bus.ensureTopic(dlqTopic, 1)

    const cache = yield* CacheWriter.make
    const s = new Consumption(settings, bus, store, cache, yield* Queue.sliding<Event>(1))
    const snapshot = Checkpoint.snapshot(s)
    // A topic whose partition count differs from its checkpoints' is refused, here and at every claim.
    yield* claimChecked(s, [])
    const refused = yield* Deferred.make<never, PartitionsChanged>()

    const busEvents: Stream.Stream<Event, BusError | SqlError.SqlError> = Stream.unwrap(
      Effect.map(Deferred.make<never, BusError>(), (connection) => {
        s.rejoin = connection
        return bus
          .consume({ topic, groupId, onAssign: (assigned) => claim(s, assigned, refused) })
          .pipe(Stream.interruptWhen(Deferred.await(connection)))
      })
    ).pipe(
      Stream.map((event): Event => ({ _tag: "Bus", event })),
      // A lost consumer reconnects with backoff; its partitions are claimed afresh from their checkpoints.
      Stream.tapError((e) =>
        Effect.logWarning(`consumer failed, reconnecting: ${e.message}`).pipe(
          Effect.zipRight(snapshot),
          Effect.zipRight(s.idle)
        )
      ),
      Stream.retry(retry)
    )
    const flushes: Stream.Stream<Event> = Stream.tick(settings.checkpointInterval).pipe(Stream.as({ _tag: "Flush" }))

    yield* Effect.logInfo(`processor: consuming ${topic} on the ${bus.kind} bus as ${owner}`)
    yield* Stream.merge(busEvents, Stream.merge(flushes, Stream.fromQueue(s.committed)), { haltStrategy: "left" }).pipe(
      Stream.interruptWhen(Deferred.await(refused)),
      Stream.runForEach(onEvent(s, snapshot)),
      // On shutdown, commit what was processed so a restart does not redo it; bounded, and without waiting on a
      // query stuck on a dead database (disconnect).
      Effect.ensuring(
        snapshot.pipe(Effect.zipRight(s.idle), Effect.disconnect, Effect.timeout("5 seconds"), Effect.ignore)
      )
    )
  }).pipe(Effect.annotateLogs({ stage: "processor" }))

/** The processor as the environment configures it. */
export const run = Effect.flatMap(AppConfig, runWith)
