import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { claim, commit } from "./Checkpoints.js"
import { checks } from "./CheckRows.js"
import { marketLegacy } from "./MarketRows.js"
import { candles, checkpoints, deadLetters, gaps, markets, ping, symbols } from "./Reads.js"

export type { CheckSummary } from "./CheckRows.js"
export type {
  CandleQuery,
  CandleRow,
  CheckpointBatch,
  CheckQuery,
  Claim,
  DeadLetterQuery,
  DeadLetterRow,
  PartitionCheckpoint
} from "./Model.js"
export { CommitTimeout, Fenced } from "./Model.js"
export { PartitionsChanged } from "./PartitionCheck.js"
export type { GapQuery, MarketRow } from "./Reads.js"

/** The durable record in Postgres: ticks, candles, gaps, candle checks, markets and the processor's checkpoints. */
export const make = Effect.map(
  SqlClient.SqlClient,
  (sql) =>
    ({
      commit: commit(sql),
      claim: claim(sql),
      marketLegacy: marketLegacy(sql),
      candles: candles(sql),
      symbols: symbols(sql),
      markets: markets(sql),
      gaps: gaps(sql),
      checks: checks(sql),
      ping: ping(sql),
      checkpoints: checkpoints(sql),
      deadLetters: deadLetters(sql)
    }) as const
)

export class Store extends Context.Tag("app/Store")<Store, Effect.Effect.Success<typeof make>>() {}

export const layer = Layer.effect(Store, make)
