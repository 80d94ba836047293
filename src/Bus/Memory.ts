import { Clock, Effect, Layer, type Scope, SubscriptionRef } from "effect"
import { Bus, BusError, partitionsDiffer } from "./Bus.js"
import * as DiskLog from "./DiskLog.js"
import { type MemoryGroups, makeGroups } from "./MemoryGroups.js"
import { bump, type Log, memoryPartition, type Partition, partitionsOf } from "./MemoryLog.js"
import { partitionFor } from "./Partitioner.js"

export type { MemoryGroups } from "./MemoryGroups.js"

/**
 * The embedded bus: a partitioned log with Kafka's semantics where they matter here: key → partition by murmur2,
 * per-partition offsets, retention (a consumer behind it resumes at the earliest retained offset), committed group
 * offsets, and consumer groups whose members share the partitions (MemoryGroups.ts). Its records are kept in memory
 * (`make`), or in segment files under a directory (`makeOnDisk`, DiskLog.ts) so that they outlive the process.
 */
export interface MemoryBusOptions {
  /** Records kept per partition (in memory). */
  readonly retention?: number
  /** Records handed to the consumer at once. */
  readonly maxBatch?: number
}

const publish =
  (log: Log) => (topic: string, messages: ReadonlyArray<{ readonly key: string; readonly value: string }>) =>
    Effect.gen(function* () {
      const parts = yield* partitionsOf(log, topic)
      const now = yield* Clock.currentTimeMillis
      const batches = new Map<Partition, Array<{ readonly key: string; readonly value: string }>>()
      for (const m of messages) {
        const p = parts[partitionFor(m.key, parts.length)]!
        const batch = batches.get(p)
        if (batch === undefined) batches.set(p, [m])
        else batch.push(m)
      }
      // A failure after some partitions took their part: the publisher retries the whole batch, as on Kafka.
      yield* Effect.try({
        try: () => {
          for (const [p, batch] of batches) p.append(batch, now)
        },
        catch: (cause) =>
          new BusError({ reason: "publish", message: `cannot append to the embedded log: ${String(cause)}`, cause })
      }).pipe(Effect.ensuring(bump(log)))
    })

/** Creates a missing topic; an existing one with another partition count is refused, as on Kafka. */
const ensureTopic = (log: Log) => (topic: string, partitions: number) =>
  Effect.suspend(() => {
    const existing = log.topics.get(topic)
    if (existing === undefined) {
      return Effect.try({
        try: () => void log.topics.set(topic, log.createTopic(topic, partitions)),
        catch: (cause) =>
          new BusError({ reason: "admin", message: `cannot create topic ${topic}: ${String(cause)}`, cause })
      })
    }
    return existing.length === partitions
      ? Effect.void
      : Effect.fail(partitionsDiffer(topic, existing.length, partitions))
  })

const commitOffsets =
  (log: Log): Bus["Type"]["commitOffsets"] =>
  (topic, groupId, offsets) =>
    Effect.sync(() => {
      const key = `${groupId}/${topic}`
      const m = log.committed.get(key) ?? new Map<number, number>()
      for (const o of offsets) m.set(o.partition, o.offset)
      log.committed.set(key, m)
    })

const endOffsets = (log: Log) => (topic: string) =>
  Effect.map(partitionsOf(log, topic), (parts) => new Map(parts.map((p, i) => [i, p.end()] as const)))

const busOf = (log: Log) => {
  const groups = makeGroups(log)
  const bus = Bus.of({
    kind: "memory",
    ensureTopic: ensureTopic(log),
    publish: publish(log),
    consume: (opts) => groups.consumeAs(undefined, opts),
    commitOffsets: commitOffsets(log),
    endOffsets: endOffsets(log)
  })
  return { bus, groups: groups satisfies MemoryGroups }
}

/** The bus in memory, and for tests the control of its consumer groups. */
export const makeWithGroups = (options: MemoryBusOptions = {}) =>
  Effect.gen(function* () {
    const retention = options.retention ?? 200_000
    return busOf({
      maxBatch: options.maxBatch ?? 500,
      topics: new Map(),
      createTopic: (topic, n) => Array.from({ length: n }, (_, i) => memoryPartition(topic, i, retention)),
      committed: new Map(),
      version: yield* SubscriptionRef.make(0)
    })
  })

export const make = (options: MemoryBusOptions = {}) => Effect.map(makeWithGroups(options), ({ bus }) => bus)

export const layer = (options?: MemoryBusOptions) => Layer.effect(Bus, make(options))

/** The bus on disk under `options.dir` (its topics as they were left), and the control of its groups. */
export const makeOnDiskWithGroups = (
  options: DiskLog.DiskLogOptions & { readonly maxBatch?: number }
): Effect.Effect<ReturnType<typeof busOf>, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const disk = yield* DiskLog.open(options)
    return busOf({
      maxBatch: options.maxBatch ?? 500,
      topics: disk.topics,
      createTopic: disk.createTopic,
      committed: new Map(),
      version: yield* SubscriptionRef.make(0)
    })
  })

export const layerOnDisk = (options: DiskLog.DiskLogOptions) =>
  Layer.scoped(
    Bus,
    Effect.map(makeOnDiskWithGroups(options), ({ bus }) => bus)
  )
