import { hostname } from "node:os"
import { Deferred, Duration, Effect, Fiber, type Queue, type Schedule } from "effect"
import { BusError, type BusShape, type ConsumerEvent } from "../Bus/Bus.js"
import type { AppConfig } from "../Config.js"
import type { CandleCheck } from "../Domain/Completeness.js"
import type { DeadLetter } from "../Domain/DeadLetter.js"
import type { Gap } from "../Domain/Gap.js"
import type * as Operator from "../Domain/Operator.js"
import type { Tick } from "../Domain/Tick.js"
import * as Schedules from "../Schedules.js"
import type { CandleRow, DeadLetterRow, PartitionCheckpoint, Store } from "../Store/Store.js"
import type { CacheWriter } from "./CacheWriter.js"

export type Event =
  | { readonly _tag: "Bus"; readonly event: ConsumerEvent }
  | { readonly _tag: "Flush" }
  /** A checkpoint transaction finished: the committer is free again. */
  | { readonly _tag: "Committed" }

/** Work done on a partition since its last snapshot. */
export interface Work {
  ticks: Array<Tick>
  candles: Map<string, CandleRow>
  dead: Array<DeadLetter>
  gaps: Array<Gap>
  /** Checks of our final 1m candles against the venue's klines, in the order made. */
  checks: Array<CandleCheck>
}
export const noWork = (): Work => ({ ticks: [], candles: new Map(), dead: [], gaps: [], checks: [] })

export interface Partition {
  readonly epoch: number
  readonly state: Operator.OperatorState
  /** Candles changed by the records being handled (collected at the end of each batch). */
  readonly changes: Operator.Changes
  nextOffset: number
  /** The offset the last snapshot covered; a partition with nothing new has nothing to checkpoint. */
  snapshotOffset: number
  work: Work
}

export interface Snapshot {
  /** Each dead letter also carries its record's key, for the DLQ topic. */
  readonly partitions: ReadonlyArray<
    PartitionCheckpoint & { readonly deadLetters: ReadonlyArray<DeadLetterRow & { readonly key: string }> }
  >
}

/** What the processor is configured with, read once from `AppConfig`. */
export interface Settings {
  readonly topic: string
  readonly dlqTopic: string
  readonly groupId: string
  readonly owner: string
  readonly lateness: number
  readonly maxFutureSkew: number
  readonly batchSize: number
  readonly maxPendingTicks: number
  readonly checkpointInterval: Duration.Duration
  /** Postgres and the DLQ while away: nothing is lost meanwhile, offsets only advance with a commit. */
  readonly retry: Schedule.Schedule<unknown>
}

export const settingsOf = (config: AppConfig): Settings => ({
  topic: config.topic.topic,
  dlqTopic: `${config.topic.topic}.dlq`,
  groupId: config.processor.groupId,
  owner: `${hostname()}/${process.pid}`,
  lateness: Duration.toMillis(config.processor.allowedLateness),
  maxFutureSkew: Duration.toMillis(config.processor.maxFutureSkew),
  batchSize: config.processor.batchSize,
  maxPendingTicks: config.processor.maxPendingTicks,
  checkpointInterval: config.processor.checkpointInterval,
  retry: Schedules.untilBack(config.processor.retryMaxDelay)
})

/**
 * What the consumer loop and the committer share: the partitions held with their work since the last snapshot, the
 * ticks pending a checkpoint, and the committer's state. Changed by the loop's fiber, and by the committer only once a
 * transaction has finished (the fence, `committing`), so no two writers touch it at once.
 */
export class Consumption {
  readonly partitions = new Map<number, Partition>()
  pendingTicks = 0
  inflight: Fiber.RuntimeFiber<void> | undefined = undefined
  committing = false
  /** When consumer lag was last recorded (it costs the broker a request: at most once a second). */
  lagAt = 0
  /** Ends the current consumer connection when failed (Processor.ts makes one per connection). */
  rejoin: Deferred.Deferred<never, BusError> | undefined = undefined
  /** Leaves the group and joins again (reconnect with backoff): whoever the group then gives a partition claims it. */
  readonly rejoinGroup: Effect.Effect<void> = Effect.suspend(() =>
    this.rejoin === undefined
      ? Effect.void
      : Deferred.fail(this.rejoin, new BusError({ reason: "consume", message: "a partition was fenced; rejoining" }))
  )
  /** Waits for the checkpoint in flight, if any. */
  readonly idle: Effect.Effect<void> = Effect.suspend(() =>
    this.inflight === undefined ? Effect.void : Fiber.join(this.inflight)
  )

  constructor(
    readonly settings: Settings,
    readonly bus: BusShape,
    readonly store: Store["Type"],
    readonly cache: CacheWriter,
    /** Tells the consumer loop a checkpoint finished. */
    readonly committed: Queue.Queue<Event>
  ) {}
}
