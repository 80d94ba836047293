import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Fencing for checkpoints: every claim of a partition (on assignment) bumps its epoch, and a checkpoint only
 * commits while the writer still holds the current epoch, so a processor that lost its partitions in a
 * rebalance can never overwrite a newer owner's checkpoint.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE processor_checkpoints ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0`
  yield* sql`ALTER TABLE processor_checkpoints ALTER COLUMN state DROP NOT NULL`
})
