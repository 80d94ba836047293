import type { SqlClient } from "@effect/sql"
import { Data, Effect } from "effect"

/**
 * The topic has a different number of partitions than its checkpoints were written for (an operator added some, or
 * the topic was recreated): keys have moved to partitions that hold none of their state, and a new owner would
 * upsert partial candles over full ones. Nothing is claimed; README "Growing the topic" says how to grow.
 */
export class PartitionsChanged extends Data.TaggedError("PartitionsChanged")<{
  readonly topic: string
  readonly checkpointed: number
  readonly actual: number
}> {
  override get message() {
    return (
      `topic ${this.topic} has ${this.actual} partitions, but its checkpoints were written for ${this.checkpointed}: ` +
      `keys have moved to partitions without their state, so the processor refuses to claim any. ` +
      `To grow a topic, see "Growing the topic" in the README`
    )
  }
}

/**
 * With the topic's partition count: refuses (PartitionsChanged) when the topic's checkpoints know another number of
 * partitions, and otherwise records a row for every partition (epoch 0 until claimed), so the count is known from
 * the first claim on, whichever member makes it. Runs inside the claim's transaction (Store.claim).
 */
export const checkPartitions = (sql: SqlClient.SqlClient, topic: string, count: number) =>
  Effect.gen(function* () {
    const rows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM processor_checkpoints WHERE topic = ${topic}`
    const known = Number(rows[0]?.n ?? 0)
    if (known > 0 && known !== count) return yield* new PartitionsChanged({ topic, checkpointed: known, actual: count })
    if (known === count) return
    const all = Array.from({ length: count }, (_, partition) => ({
      topic,
      partition,
      nextOffset: 0,
      state: null,
      owner: "",
      epoch: 0,
      updatedAt: new Date()
    }))
    yield* sql`INSERT INTO processor_checkpoints ${sql.insert(all)} ON CONFLICT (topic, partition) DO NOTHING`
  })
