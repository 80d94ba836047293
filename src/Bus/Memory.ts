import { Clock, Effect, Layer, SubscriptionRef } from "effect"
import { Bus, partitionsDiffer } from "./Bus.js"
import { type MemoryGroups, makeGroups } from "./MemoryGroups.js"
import { bump, type Log, partitionsOf } from "./MemoryLog.js"
import { partitionFor } from "./Partitioner.js"

export type { MemoryGroups } from "./MemoryGroups.js"

/**
 * The embedded bus: an in-memory partitioned log with Kafka's semantics where they matter here:
 * key → partition by murmur2, per-partition offsets, retention of the newest `retention` records
 * (a consumer behind it resumes at the earliest retained offset), committed group offsets, and consumer groups
 * whose members share the partitions (MemoryGroups.ts).
 */
export interface MemoryBusOptions {
  /** Records kept per partition. */
  readonly retention?: number
  /** Records handed to the consumer at once. */
  readonly maxBatch?: number
}

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
      yield* bump(log)
    })

/** Creates a missing topic; an existing one with another partition count is refused, as on Kafka. */
const ensureTopic = (log: Log) => (topic: string, partitions: number) =>
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
  Effect.map(partitionsOf(log, topic), (parts) => new Map(parts.map((p, i) => [i, p.base + p.records.length] as const)))

/** The bus, and for tests the control of its consumer groups. */
export const makeWithGroups = (options: MemoryBusOptions = {}) =>
  Effect.gen(function* () {
    const log: Log = {
      retention: options.retention ?? 200_000,
      maxBatch: options.maxBatch ?? 500,
      topics: new Map(),
      committed: new Map(),
      version: yield* SubscriptionRef.make(0)
    }
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
  })

export const make = (options: MemoryBusOptions = {}) => Effect.map(makeWithGroups(options), ({ bus }) => bus)

export const layer = (options?: MemoryBusOptions) => Layer.effect(Bus, make(options))
