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

  // TimescaleDB (hypertables, compression, retention): src/Sql/Timescale.ts, after the migrations at every start. It
  // asks the server whether the extension is preloaded first: CREATE EXTENSION on one that is not ends the connection.
})
