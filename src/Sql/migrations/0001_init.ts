import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** Ticks, candles (with the indicator values as of each candle) and the processor's checkpoints. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS ticks (
      symbol       text             NOT NULL,
      coin_id      text             NOT NULL,
      source       text             NOT NULL,
      event_time   timestamptz      NOT NULL,
      price        double precision NOT NULL,
      volume       double precision,
      volume_24h   double precision,
      market_cap   double precision,
      change_24h   double precision,
      ingest_time  timestamptz      NOT NULL,
      PRIMARY KEY (symbol, event_time, source)
    )`
  yield* sql`
    CREATE TABLE IF NOT EXISTS candles (
      symbol        text             NOT NULL,
      interval      text             NOT NULL,
      bucket_start  timestamptz      NOT NULL,
      open          double precision NOT NULL,
      high          double precision NOT NULL,
      low           double precision NOT NULL,
      close         double precision NOT NULL,
      volume        double precision NOT NULL,
      tick_count    integer          NOT NULL,
      vwap          double precision NOT NULL,
      sma20         double precision,
      sma50         double precision,
      ema12         double precision,
      ema26         double precision,
      rsi14         double precision,
      bb_upper      double precision,
      bb_middle     double precision,
      bb_lower      double precision,
      updated_at    timestamptz      NOT NULL DEFAULT now(),
      PRIMARY KEY (symbol, interval, bucket_start)
    )`
  yield* sql`
    CREATE TABLE IF NOT EXISTS processor_checkpoints (
      topic        text        NOT NULL,
      partition    integer     NOT NULL,
      next_offset  bigint      NOT NULL,
      state        jsonb       NOT NULL,
      owner        text        NOT NULL,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (topic, partition)
    )`
  yield* sql`CREATE INDEX IF NOT EXISTS ticks_event_time_idx ON ticks (event_time DESC)`

  // TimescaleDB where the server has it; plain tables (already indexed by their keys) otherwise.
  const available = yield* sql<{ readonly name: string }>`
    SELECT name FROM pg_available_extensions WHERE name = 'timescaledb'`
  if (available.length === 0) return
  yield* sql
    .withTransaction(
      Effect.gen(function* () {
        yield* sql`CREATE EXTENSION IF NOT EXISTS timescaledb`
        yield* sql`SELECT create_hypertable('ticks', 'event_time', chunk_time_interval => INTERVAL '1 day',
          if_not_exists => TRUE, migrate_data => TRUE)`
        yield* sql`SELECT create_hypertable('candles', 'bucket_start', chunk_time_interval => INTERVAL '7 days',
          if_not_exists => TRUE, migrate_data => TRUE)`
        yield* sql`ALTER TABLE ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol')`
        yield* sql`SELECT add_compression_policy('ticks', INTERVAL '7 days', if_not_exists => TRUE)`
        yield* sql`SELECT add_retention_policy('ticks', INTERVAL '90 days', if_not_exists => TRUE)`
      })
    )
    .pipe(
      // A savepoint: the extension may be listed but not loadable (shared_preload_libraries); keep plain tables then.
      Effect.catchAll((error) =>
        Effect.logWarning("TimescaleDB is available but could not be enabled; using plain tables", error)
      )
    )
})
