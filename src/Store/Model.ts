import { SqlError } from "@effect/sql"
import { Context, Data, type Duration } from "effect"
import type { Candle } from "../Domain/Candle.js"
import type { CandleCheck, CheckResult } from "../Domain/Completeness.js"
import type { DeadLetterReason } from "../Domain/DeadLetter.js"
import type { Gap } from "../Domain/Gap.js"
import type { IndicatorValues } from "../Domain/Indicators.js"
import type { Interval } from "../Domain/Interval.js"
import type { Market } from "../Domain/Market.js"
import type { Tick } from "../Domain/Tick.js"

export interface CandleRow {
  readonly candle: Candle
  /** Indicator values as of this candle (provisional while it is open). */
  readonly indicators: IndicatorValues
}

/** What one partition contributes to a checkpoint transaction. */
export interface PartitionCheckpoint {
  readonly partition: number
  /** The fencing token this writer got when it claimed the partition. */
  readonly epoch: number
  /** The next offset to read: everything before it is in this transaction or an earlier one. */
  readonly nextOffset: number
  /** The operator state after `nextOffset - 1`, as JSON text (serialised when the snapshot was taken). */
  readonly state: string
  readonly ticks: ReadonlyArray<Tick>
  readonly candles: ReadonlyArray<CandleRow>
  /** Records that could not be used, up to `nextOffset`: each as the JSON letter published to the DLQ topic. */
  readonly deadLetters: ReadonlyArray<DeadLetterRow>
  /** Gap records read up to `nextOffset` (stored once each: a replay of them after a crash changes nothing). */
  readonly gaps: ReadonlyArray<Gap>
  /** Our final 1m candles checked against the venue's (docs/completeness.md): upserted, so a replay writes each once. */
  readonly checks: ReadonlyArray<CandleCheck>
}

export interface DeadLetterRow {
  readonly offset: number
  readonly reason: DeadLetterReason
  readonly letter: string
  /** The record's market, when it decoded. */
  readonly market?: Market | undefined
}

export interface DeadLetterQuery {
  readonly reason?: DeadLetterRow["reason"] | undefined
  readonly limit: number
}

/**
 * One checkpoint transaction: per partition, the new ticks, the touched candles, the gaps and dead letters, and the
 * offset and state they lead to; the `markets` row of every market with a tick or gap in it is upserted.
 */
export interface CheckpointBatch {
  readonly topic: string
  readonly owner: string
  readonly partitions: ReadonlyArray<PartitionCheckpoint>
}

/** A market's checks in [from, to) (by bucket start), newest first, optionally only those with `result`. */
export interface CheckQuery {
  readonly market: Market
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly limit: number
  readonly result?: CheckResult | undefined
}

export interface Claim {
  readonly epoch: number
  readonly nextOffset: number
  /** The checkpointed operator state, or null for a partition never checkpointed. */
  readonly state: unknown
}

/** These partitions have a newer owner: nothing of this transaction was written. */
export class Fenced extends Data.TaggedError("Fenced")<{ readonly partitions: ReadonlyArray<number> }> {}

export interface CandleQuery {
  /** `venue:BASE-QUOTE` (docs/markets.md). */
  readonly market: Market
  readonly interval: Interval
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly limit: number
  /** Only candles that can no longer change (status final or gap). */
  readonly final?: boolean | undefined
}

export const timedOut = (what: string) => new SqlError.SqlError({ message: `${what} timed out`, cause: "timeout" })

/** Bound on one checkpoint transaction, read at each commit; the fault model shortens it to reach the timeout path. */
export class CommitTimeout extends Context.Reference<CommitTimeout>()("app/Store/CommitTimeout", {
  defaultValue: (): Duration.DurationInput => "30 seconds"
}) {}
