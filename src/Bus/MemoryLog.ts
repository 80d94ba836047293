import { Effect, Option, SubscriptionRef } from "effect"
import { BusError, type BusRecord } from "./Bus.js"

/** One partition of the embedded log, in memory or on disk (DiskLog.ts). Offsets are consecutive from `base()`. */
export interface Partition {
  /** The earliest retained offset. */
  readonly base: () => number
  /** The next offset to be written. */
  readonly end: () => number
  /** Up to `max` records from offset `from` (or the earliest retained one); may throw on a damaged log. */
  readonly read: (from: number, max: number) => ReadonlyArray<BusRecord>
  /** Appends the messages at `end()`, stamped `now`; returns once they are kept (on disk: synced). May throw. */
  readonly append: (messages: ReadonlyArray<{ readonly key: string; readonly value: string }>, now: number) => void
}

/** The embedded log's state: every topic's partitions and each group's committed offsets. */
export interface Log {
  readonly maxBatch: number
  readonly topics: Map<string, Array<Partition>>
  /** Makes a new topic's partitions (on disk, durably); may throw. */
  readonly createTopic: (topic: string, partitions: number) => Array<Partition>
  /** Reported for lag only and never read back (the processor resumes from its Postgres checkpoint): kept in memory. */
  readonly committed: Map<string, Map<number, number>>
  /** Bumped on every append (and group change) so idle consumers wake up. */
  readonly version: SubscriptionRef.SubscriptionRef<number>
}

/** A partition in memory: the newest `retention` records (trimmed once it holds a quarter more). */
export const memoryPartition = (topic: string, partition: number, retention: number): Partition => {
  let base = 0
  const records: Array<BusRecord> = []
  return {
    base: () => base,
    end: () => base + records.length,
    read: (from, max) => {
      const start = Math.max(from, base) - base
      return records.slice(start, start + max)
    },
    append: (messages, now) => {
      for (const m of messages) {
        records.push({ topic, partition, offset: base + records.length, key: m.key, value: m.value, timestamp: now })
      }
      if (records.length > retention * 1.25) {
        const drop = records.length - retention
        records.splice(0, drop)
        base += drop
      }
    }
  }
}

export const partitionsOf = (log: Log, topic: string) =>
  Option.fromNullable(log.topics.get(topic)).pipe(
    Effect.mapError(() => new BusError({ reason: "admin", message: `unknown topic ${topic}` }))
  )

/** Up to `maxBatch` records from offset `from` (or the earliest retained one). */
export const read = (log: Log, p: Partition, from: number) =>
  Effect.try({
    try: () => p.read(from, log.maxBatch),
    catch: (cause) =>
      new BusError({ reason: "consume", message: `cannot read the embedded log: ${String(cause)}`, cause })
  })

export const bump = (log: Log) => SubscriptionRef.update(log.version, (n) => n + 1)
