import { Clock, Effect, Layer, Option, Ref, Stream, SubscriptionRef } from "effect"
import { Bus, BusError, type BusRecord, type ConsumerEvent, partitionsDiffer } from "./Bus.js"
import { partitionFor } from "./Partitioner.js"

/**
 * The embedded bus: an in-memory partitioned log with Kafka's semantics where they matter here:
 * key → partition by murmur2, per-partition offsets, retention of the newest `retention` records
 * (a consumer behind it resumes at the earliest retained offset), committed group offsets.
 * One consumer per group gets every partition.
 */
export interface MemoryBusOptions {
  /** Records kept per partition. */
  readonly retention?: number
  /** Records handed to the consumer at once. */
  readonly maxBatch?: number
}

interface Partition {
  base: number // offset of records[0]
  records: Array<BusRecord>
}

/** The log's state: every topic's partitions and each group's committed offsets. */
interface Log {
  readonly retention: number
  readonly maxBatch: number
  readonly topics: Map<string, Array<Partition>>
  readonly committed: Map<string, Map<number, number>>
  /** Bumped on every append so idle consumers wake up. */
  readonly version: SubscriptionRef.SubscriptionRef<number>
}

const partitionsOf = (log: Log, topic: string) =>
  Option.fromNullable(log.topics.get(topic)).pipe(
    Effect.mapError(() => new BusError({ reason: "admin", message: `unknown topic ${topic}` }))
  )

const publish =
  (log: Log) => (topic: string, messages: ReadonlyArray<{ readonly key: string; readonly value: string }>) =>
    Effect.gen(function* () {
      const parts = yield* partitionsOf(log, topic)
      const now = yield* Clock.currentTimeMillis
      for (const m of messages) {
        const partition = partitionFor(m.key, parts.length)
        const p = parts[partition]!
        p.records.push({
          topic,
          partition,
          offset: p.base + p.records.length,
          key: m.key,
          value: m.value,
          timestamp: now
        })
        if (p.records.length > log.retention * 1.25) {
          const drop = p.records.length - log.retention
          p.records.splice(0, drop)
          p.base += drop
        }
      }
      yield* SubscriptionRef.update(log.version, (n) => n + 1)
    })

const read = (log: Log, p: Partition, from: number): ReadonlyArray<BusRecord> => {
  const start = Math.max(from, p.base) - p.base
  return p.records.slice(start, start + log.maxBatch)
}

const consume =
  (log: Log): Bus["Type"]["consume"] =>
  (opts) =>
    Stream.unwrap(
      Effect.gen(function* () {
        const parts = yield* partitionsOf(log, opts.topic)
        const all = parts.map((_, i) => i)
        const start = yield* opts.onAssign(all)
        const positions = yield* Ref.make(new Map(all.map((i) => [i, start.get(i) ?? 0] as const)))

        // One pass over the partitions; empty when there is nothing new.
        const poll = Effect.gen(function* () {
          const pos = yield* Ref.get(positions)
          const out: Array<ConsumerEvent> = []
          for (const i of all) {
            const records = read(log, parts[i]!, pos.get(i)!)
            if (records.length > 0) {
              out.push({ _tag: "Records", partition: i, records })
              pos.set(i, records[records.length - 1]!.offset + 1)
            }
          }
          return out
        })
        const waitForAppend = (seen: number) =>
          log.version.changes.pipe(
            Stream.filter((v) => v !== seen),
            Stream.take(1),
            Stream.runDrain
          )

        const nextEvents = Effect.gen(function* () {
          for (;;) {
            const seen = yield* SubscriptionRef.get(log.version)
            const events = yield* poll
            if (events.length > 0) return events
            yield* waitForAppend(seen)
          }
        })
        const assigned: ConsumerEvent = { _tag: "Assigned", partitions: all }
        return Stream.concat(Stream.make(assigned), Stream.repeatEffect(nextEvents).pipe(Stream.flattenIterables))
      })
    )

export const make = (options: MemoryBusOptions = {}) =>
  Effect.gen(function* () {
    const log: Log = {
      retention: options.retention ?? 200_000,
      maxBatch: options.maxBatch ?? 500,
      topics: new Map(),
      committed: new Map(),
      version: yield* SubscriptionRef.make(0)
    }

    const ensureTopic = (topic: string, partitions: number) =>
      Effect.suspend(() => {
        const existing = log.topics.get(topic)
        if (existing === undefined) {
          log.topics.set(
            topic,
            Array.from({ length: partitions }, () => ({ base: 0, records: [] }))
          )
          return Effect.void
        }
        return existing.length === partitions
          ? Effect.void
          : Effect.fail(partitionsDiffer(topic, existing.length, partitions))
      })

    const commitOffsets: Bus["Type"]["commitOffsets"] = (topic, groupId, offsets) =>
      Effect.sync(() => {
        const key = `${groupId}/${topic}`
        const m = log.committed.get(key) ?? new Map<number, number>()
        for (const o of offsets) m.set(o.partition, o.offset)
        log.committed.set(key, m)
      })

    const endOffsets = (topic: string) =>
      Effect.map(
        partitionsOf(log, topic),
        (parts) => new Map(parts.map((p, i) => [i, p.base + p.records.length] as const))
      )

    return Bus.of({
      kind: "memory",
      ensureTopic,
      publish: publish(log),
      consume: consume(log),
      commitOffsets,
      endOffsets
    })
  })

export const layer = (options?: MemoryBusOptions) => Layer.effect(Bus, make(options))
