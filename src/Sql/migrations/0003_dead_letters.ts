import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Dead letters in the record too: written in the checkpoint transaction that moves past them, so each is here exactly
 * once (the `<topic>.dlq` topic gets them at least once), and the admin API can list them without a Kafka client.
 * `letter` is the JSON published to the DLQ topic, kept as text: jsonb refuses \u0000, which a bad record may carry.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS dead_letters (
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    reason text NOT NULL,
    letter text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS dead_letters_recent ON dead_letters (recorded_at DESC)`
})
