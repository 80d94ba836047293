import { NodeContext } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import { PgMigrator } from "@effect/sql-pg"
import { Effect, type Layer } from "effect"
import { expect } from "vitest"
import { migrate } from "../../src/Sql/Migrations.js"
import init from "../../src/Sql/migrations/0001_init.js"
import fencing from "../../src/Sql/migrations/0002_fencing.js"
import deadLetters from "../../src/Sql/migrations/0003_dead_letters.js"
import markets from "../../src/Sql/migrations/0004_markets.js"
import completeness from "../../src/Sql/migrations/0005_completeness.js"
import { query } from "../../support/services.mjs"

// Migration 0005 (docs/completeness.md, "Postgres") over a database as 0001-0004 left it. Written from the contract:
// the expected status of each row is spelled out.

const t0 = Date.UTC(2025, 0, 1)
const at = (min: number) => new Date(t0 + min * 60_000).toISOString()

const before = PgMigrator.run({
  loader: PgMigrator.fromRecord({
    "0001_init": init,
    "0002_fencing": fencing,
    "0003_dead_letters": deadLetters,
    "0004_markets": markets
  })
})

// [market, interval, minute]: the newest bucket of each (market, interval) is the one still open.
const oldCandles: ReadonlyArray<readonly [string, string, number]> = [
  ["binance:BTC-USDT", "1m", 0],
  ["binance:BTC-USDT", "1m", 1],
  ["binance:BTC-USDT", "1m", 2],
  ["binance:BTC-USDT", "5m", 0],
  ["coingecko:ETH-USD", "1m", 0],
  ["coingecko:ETH-USD", "1m", 5]
]

const snapshot = async (url: string) => ({
  candles: await query(
    url,
    `SELECT market, interval, (extract(epoch FROM bucket_start)::int - ${t0 / 1000}) / 60 AS minute, status, gaps,
       first_trade_id, last_trade_id FROM candles ORDER BY market, interval, bucket_start`
  ),
  checkColumns: await query(
    url,
    `SELECT column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'candle_checks' ORDER BY ordinal_position`
  ),
  checkKey: await query(
    url,
    `SELECT a.attname AS column FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = 'candle_checks'::regclass AND i.indisprimary ORDER BY k.n`
  )
})

const row = (market: string, interval: string, minute: number, status: string) => ({
  market,
  interval,
  minute,
  status,
  gaps: [],
  first_trade_id: null,
  last_trade_id: null
})

const column = (column_name: string, data_type: string, is_nullable: "YES" | "NO") => ({
  column_name,
  data_type,
  is_nullable
})

const expected = {
  candles: [
    row("binance:BTC-USDT", "1m", 0, "final"),
    row("binance:BTC-USDT", "1m", 1, "final"),
    row("binance:BTC-USDT", "1m", 2, "provisional"),
    row("binance:BTC-USDT", "5m", 0, "provisional"),
    row("coingecko:ETH-USD", "1m", 0, "final"),
    row("coingecko:ETH-USD", "1m", 5, "provisional")
  ],
  checkColumns: [
    column("market", "text", "NO"),
    column("bucket_start", "timestamp with time zone", "NO"),
    column("result", "text", "NO"),
    column("mismatched", "ARRAY", "NO"),
    column("ours", "jsonb", "YES"),
    column("theirs", "jsonb", "NO"),
    column("gaps", "jsonb", "NO"),
    column("checked_at", "timestamp with time zone", "NO"),
    column("stored_at", "timestamp with time zone", "NO")
  ],
  checkKey: [{ column: "market" }, { column: "bucket_start" }]
}

/**
 * Migrates a database as 0004 left it (through `client`, a layer on `url`) and checks each candle's status; then
 * runs 0005 again, which must change nothing, not even a candle the processor has written since (its status stays).
 */
export const checkMigration0005 = async (url: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
    Effect.runPromise(Effect.provide(effect, client) as Effect.Effect<A, unknown>)
  await run(Effect.provide(before, NodeContext.layer))
  for (const [market, interval, minute] of oldCandles)
    await query(
      url,
      `INSERT INTO candles (market, symbol, interval, bucket_start, open, high, low, close, volume, tick_count, vwap)
       VALUES ($1, split_part(split_part($1, ':', 2), '-', 1), $2, $3, 1, 2, 0.5, 1.5, 3, 4, 1.2)`,
      [market, interval, at(minute)]
    )
  await run(migrate)
  expect(await snapshot(url)).toEqual(expected)
  await run(completeness)
  expect(await snapshot(url)).toEqual(expected)
  // The processor closes the open one and writes the next: a second run leaves both as written.
  await query(url, `UPDATE candles SET status = 'final' WHERE market = 'coingecko:ETH-USD'`)
  await query(
    url,
    `INSERT INTO candles (market, symbol, interval, bucket_start, open, high, low, close, volume, tick_count, vwap,
       status, gaps, first_trade_id, last_trade_id)
     VALUES ('coingecko:ETH-USD', 'ETH', '1m', $1, 1, 1, 1, 1, 1, 1, 1, 'gap', '[{"fromId":3,"toId":4}]', 1, 9)`,
    [at(6)]
  )
  const after = await snapshot(url)
  await run(completeness)
  expect(await snapshot(url)).toEqual(after)
  expect(after.candles.filter((c) => c["market"] === "coingecko:ETH-USD")).toEqual([
    row("coingecko:ETH-USD", "1m", 0, "final"),
    row("coingecko:ETH-USD", "1m", 5, "final"),
    {
      ...row("coingecko:ETH-USD", "1m", 6, "gap"),
      gaps: [{ fromId: 3, toId: 4 }],
      first_trade_id: "1",
      last_trade_id: "9"
    }
  ])
}
