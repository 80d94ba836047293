import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Completeness (docs/completeness.md, "Postgres"): each candle's status, the unfilled gaps touching it and its first
 * and last trade ids; and `candle_checks`, our final 1m candles compared with the venue's own. Every step can run
 * again (IF NOT EXISTS; the statuses of the rows already here are set only when the column is new), on PGlite as on a
 * real server.
 *
 * Rows already here were written by a processor that closed every bucket but the newest of each market and interval
 * (the one still open when it stopped): those are `final`, the newest `provisional`.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const fresh = !(yield* hasColumn(sql, "candles", "status"))
  yield* sql`ALTER TABLE candles ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'final'`
  yield* sql`ALTER TABLE candles ADD COLUMN IF NOT EXISTS gaps jsonb NOT NULL DEFAULT '[]'`
  yield* sql`ALTER TABLE candles ADD COLUMN IF NOT EXISTS first_trade_id bigint`
  yield* sql`ALTER TABLE candles ADD COLUMN IF NOT EXISTS last_trade_id bigint`
  if (fresh) {
    yield* sql`UPDATE candles c SET status = 'provisional'
      FROM (SELECT market, interval, max(bucket_start) AS newest FROM candles GROUP BY market, interval) n
      WHERE c.market = n.market AND c.interval = n.interval AND c.bucket_start = n.newest`
  }

  yield* sql`CREATE TABLE IF NOT EXISTS candle_checks (
    market       text        NOT NULL,
    bucket_start timestamptz NOT NULL,
    result       text        NOT NULL,
    mismatched   text[]      NOT NULL DEFAULT '{}',
    ours         jsonb,
    theirs       jsonb       NOT NULL,
    gaps         jsonb       NOT NULL DEFAULT '[]',
    checked_at   timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (market, bucket_start)
  )`
})

const hasColumn = (sql: SqlClient.SqlClient, table: string, column: string) =>
  Effect.map(
    sql`SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ${table} AND column_name = ${column}`,
    (rows) => rows.length > 0
  )
