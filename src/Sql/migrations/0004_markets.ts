import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Markets (docs/markets.md, "Postgres"): ticks and candles keyed by market, trade ids and sides on ticks, the market of
 * a dead letter, the gaps, the markets seen, and `market_legacy`, the market each symbol of today's rows came from.
 * Every step can run again (IF NOT EXISTS, keys compared before they are replaced), on PGlite as on a real server.
 *
 * A tick written before markets gets its own market, `sampleMarket(source, symbol)` as the processor reads it
 * (`simulator:SYM-USD`, else `<source>:SYM-USD` with replay read as coingecko). A candle mixed every source of its
 * symbol, so it gets the symbol's `market_legacy` market: the one with most ticks.
 */

// SQL of sampleMarket (src/Domain/Tick.ts) over a row's source and symbol.
const sampleMarketSql = `(CASE source WHEN 'replay' THEN 'coingecko' ELSE source END) || ':' || symbol || '-USD'`

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const compressed = yield* pauseCompression(sql)

  yield* sql`CREATE TABLE IF NOT EXISTS market_legacy (symbol text PRIMARY KEY, market text NOT NULL)`
  // The market with most ticks per symbol (ties: the first by name); a symbol with candles but no ticks left → coingecko.
  yield* sql.unsafe(`INSERT INTO market_legacy (symbol, market)
    SELECT DISTINCT ON (symbol) symbol, market FROM (
      SELECT symbol, ${sampleMarketSql} AS market, count(*) AS n FROM ticks GROUP BY 1, 2
      UNION ALL
      SELECT DISTINCT symbol, 'coingecko:' || symbol || '-USD', -1 FROM candles
    ) counted ORDER BY symbol, n DESC, market
    ON CONFLICT (symbol) DO NOTHING`)

  yield* ticks(sql)
  yield* candles(sql)
  yield* sql`ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS market text`

  yield* sql`CREATE TABLE IF NOT EXISTS gaps (
    market      text        NOT NULL,
    from_id     bigint      NOT NULL,
    to_id       bigint      NOT NULL,
    from_time   timestamptz NOT NULL,
    to_time     timestamptz NOT NULL,
    reason      text        NOT NULL,
    detected_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (market, from_id, to_id)
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS gaps_market_recent ON gaps (market, to_time DESC)`

  yield* sql`CREATE TABLE IF NOT EXISTS markets (
    market           text        PRIMARY KEY,
    venue            text        NOT NULL,
    base             text        NOT NULL,
    quote            text        NOT NULL,
    kind             text        NOT NULL,
    first_event_time timestamptz,
    last_event_time  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
  )`
  // The markets of the rows already here, so a bare symbol resolves to them from the start.
  yield* sql`INSERT INTO markets (market, venue, base, quote, kind, first_event_time, last_event_time)
    SELECT market, split_part(market, ':', 1), split_part(split_part(market, ':', 2), '-', 1),
      split_part(market, '-', 2),
      CASE WHEN split_part(market, ':', 1) IN ('binance', 'coinbase', 'kraken') THEN 'trades' ELSE 'sample' END,
      min(first), max(last)
    FROM (
      SELECT market, min(event_time) AS first, max(event_time) AS last FROM ticks GROUP BY market
      UNION ALL
      SELECT DISTINCT market, NULL::timestamptz, NULL::timestamptz FROM candles
    ) seen GROUP BY market
    ON CONFLICT (market) DO NOTHING`

  if (compressed) yield* resumeCompression(sql)
})

const ticks = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    yield* sql`ALTER TABLE ticks ADD COLUMN IF NOT EXISTS market text`
    yield* sql`ALTER TABLE ticks ADD COLUMN IF NOT EXISTS trade_id bigint NOT NULL DEFAULT -1`
    yield* sql`ALTER TABLE ticks ADD COLUMN IF NOT EXISTS side text`
    yield* sql.unsafe(`UPDATE ticks SET market = ${sampleMarketSql} WHERE market IS NULL`)
    yield* sql`ALTER TABLE ticks ALTER COLUMN market SET NOT NULL`
    if (yield* hasKey(sql, "ticks", ["market", "event_time", "trade_id"])) return
    // Replay and coingecko now share a market: a replayed sample at the very time of a CoinGecko one is the same
    // observation (the new key would refuse the pair). The CoinGecko row stays.
    yield* sql`DELETE FROM ticks r USING ticks c
      WHERE r.source = 'replay' AND c.source = 'coingecko' AND r.market = c.market AND r.event_time = c.event_time
        AND r.trade_id = c.trade_id`
    yield* replaceKey(sql, "ticks", "market, event_time, trade_id")
  })

const candles = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    yield* sql`ALTER TABLE candles ADD COLUMN IF NOT EXISTS market text`
    yield* sql`UPDATE candles c SET market = l.market FROM market_legacy l WHERE c.market IS NULL AND l.symbol = c.symbol`
    yield* sql`ALTER TABLE candles ALTER COLUMN market SET NOT NULL`
    if (yield* hasKey(sql, "candles", ["market", "interval", "bucket_start"])) return
    yield* replaceKey(sql, "candles", "market, interval, bucket_start")
  })

/** Whether `table`'s primary key is exactly `columns`, in order. */
const hasKey = (sql: SqlClient.SqlClient, table: string, columns: ReadonlyArray<string>) =>
  Effect.map(
    sql<{ readonly column: string }>`
      SELECT a.attname AS column FROM pg_index i
      JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = ${table}::regclass AND i.indisprimary ORDER BY k.n`,
    (rows) => rows.map((r) => r.column).join(",") === columns.join(",")
  )

const replaceKey = (sql: SqlClient.SqlClient, table: string, columns: string) =>
  Effect.gen(function* () {
    const [key] = yield* sql<{ readonly name: string }>`
      SELECT conname AS name FROM pg_constraint WHERE conrelid = ${table}::regclass AND contype = 'p'`
    if (key !== undefined) yield* sql.unsafe(`ALTER TABLE ${table} DROP CONSTRAINT "${key.name}"`)
    yield* sql.unsafe(`ALTER TABLE ${table} ADD PRIMARY KEY (${columns})`)
  })

/**
 * TimescaleDB (0001 compresses ticks by symbol): a compressed hypertable refuses new keys, so its chunks are
 * decompressed and compression turned off for the migration, then on again segmented by market. Whether it was on.
 */
const pauseCompression = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const installed = yield* sql`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`
    if (installed.length === 0) return false
    const on = yield* sql`SELECT 1 FROM timescaledb_information.hypertables
      WHERE hypertable_name = 'ticks' AND compression_enabled`
    if (on.length === 0) return false
    yield* sql`SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks('ticks') c`
    yield* sql`SELECT remove_compression_policy('ticks', if_exists => true)`
    yield* sql`ALTER TABLE ticks SET (timescaledb.compress = false)`
    return true
  })

const resumeCompression = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    yield* sql`ALTER TABLE ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'market')`
    yield* sql`SELECT add_compression_policy('ticks', INTERVAL '7 days', if_not_exists => true)`
  })
