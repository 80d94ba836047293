import { Context, Data, type Effect, type Stream } from "effect"

/** A message to publish; the key picks the partition (the symbol, so one symbol stays in order). */
export interface BusMessage {
  readonly key: string
  readonly value: string
}

/** A record read back from a partition. Offsets are per partition and strictly increasing. */
export interface BusRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: string
  /** The original bytes, when `value` (UTF-8 decoded) does not reproduce them. */
  readonly raw?: Uint8Array
  /** Append time, epoch ms. */
  readonly timestamp: number
}

export type ConsumerEvent =
  /** The group gave this member these partitions; reading starts at the offsets `onAssign` returned. */
  | { readonly _tag: "Assigned"; readonly partitions: ReadonlyArray<number> }
  /** These partitions were taken away (rebalance); anything pending for them must not be checkpointed over a newer owner. */
  | { readonly _tag: "Revoked"; readonly partitions: ReadonlyArray<number> }
  | { readonly _tag: "Records"; readonly partition: number; readonly records: ReadonlyArray<BusRecord> }

export interface ConsumeOptions<E> {
  readonly topic: string
  readonly groupId: string
  /**
   * Called when partitions are assigned, before any of their records are read:
   * returns the next offset to read for each (from the processor's checkpoint). Missing → the earliest retained offset.
   */
  readonly onAssign: (partitions: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, number>, E>
}

/** Why an existing topic is refused: its partition count is not the one asked for. */
export const partitionsDiffer = (topic: string, actual: number, wanted: number) =>
  new BusError({
    reason: "partitions",
    message:
      `topic ${topic} has ${actual} partitions, not the ${wanted} asked for (KAFKA_PARTITIONS): an existing topic is ` +
      `never changed. Set KAFKA_PARTITIONS=${actual}, or grow it as "Growing the topic" in the README says`
  })

export class BusError extends Data.TaggedError("BusError")<{
  readonly reason: "connect" | "publish" | "consume" | "admin" | "crashed" | "timeout" | "partitions"
  readonly message: string
  readonly cause?: unknown
}> {}

export interface BusShape {
  /** Which backend this is, for /ready and logs. */
  readonly kind: "kafka" | "memory"
  /**
   * Creates the topic with `partitions` partitions if it is missing. An existing topic is never changed: one with
   * another partition count fails (reason "partitions"), since its keys would move to partitions without their state.
   */
  readonly ensureTopic: (topic: string, partitions: number) => Effect.Effect<void, BusError>
  /** Appends messages; resolves once the bus has acknowledged all of them. */
  readonly publish: (topic: string, messages: ReadonlyArray<BusMessage>) => Effect.Effect<void, BusError>
  /**
   * Joins `groupId` and streams what this member is assigned. Offsets are NOT committed by reading:
   * the processor owns its offsets (in Postgres) and reports them with `commitOffsets`, for lag monitoring only.
   */
  readonly consume: <E>(options: ConsumeOptions<E>) => Stream.Stream<ConsumerEvent, BusError | E>
  readonly commitOffsets: (
    topic: string,
    groupId: string,
    offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>
  ) => Effect.Effect<void, BusError>
  /** The next offset to be written in each partition (the log end), for lag. */
  readonly endOffsets: (topic: string) => Effect.Effect<ReadonlyMap<number, number>, BusError>
}

export class Bus extends Context.Tag("app/Bus")<Bus, BusShape>() {}
