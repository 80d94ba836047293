import { Effect, Option, SubscriptionRef } from "effect"
import { BusError, type BusRecord } from "./Bus.js"

/** One partition of the embedded log: the retained records and the offset of the first. */
export interface Partition {
  base: number // offset of records[0]
  records: Array<BusRecord>
}

/** The embedded log's state: every topic's partitions and each group's committed offsets. */
export interface Log {
  readonly retention: number
  readonly maxBatch: number
  readonly topics: Map<string, Array<Partition>>
  readonly committed: Map<string, Map<number, number>>
  /** Bumped on every append (and group change) so idle consumers wake up. */
  readonly version: SubscriptionRef.SubscriptionRef<number>
}

export const partitionsOf = (log: Log, topic: string) =>
  Option.fromNullable(log.topics.get(topic)).pipe(
    Effect.mapError(() => new BusError({ reason: "admin", message: `unknown topic ${topic}` }))
  )

/** Up to `maxBatch` records from offset `from` (or the earliest retained one). */
export const read = (log: Log, p: Partition, from: number): ReadonlyArray<BusRecord> => {
  const start = Math.max(from, p.base) - p.base
  return p.records.slice(start, start + log.maxBatch)
}

export const bump = (log: Log) => SubscriptionRef.update(log.version, (n) => n + 1)
