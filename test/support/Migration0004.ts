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
import { query } from "../../support/services.mjs"

// Migration 0004 (docs/markets.md, "Postgres") over a database holding rows in the format before markets. Written
// from the contract, not from the migration: the expected markets are spelled out row by row.

const t0 = Date.UTC(2025, 0, 1)
const at = (s: number) => new Date(t0 + s * 1000).toISOString()

/** The database as 0001-0003 left it. */
const before = PgMigrator.run({
  loader: PgMigrator.fromRecord({ "0001_init": init, "0002_fencing": fencing, "0003_dead_letters": deadLetters })
})

// [symbol, source, second]: BTC has 3 coingecko + 2 replay (one at a coingecko tick's very time) + 1 simulator,
// so its market is coingecko; ETH is simulator only; DOGE has candles and no ticks.
const oldTicks: ReadonlyArray<readonly [string, string, number]> = [
  ["BTC", "coingecko", 0],
  ["BTC", "coingecko", 60],
  ["BTC", "coingecko", 120],
  ["BTC", "replay", 60],
  ["BTC", "replay", 90],
  ["BTC", "simulator", 60],
  ["ETH", "simulator", 0],
  ["ETH", "simulator", 5]
]
const oldCandles = ["BTC", "ETH", "DOGE"]

const fillToday = async (url: string) => {
  for (const [symbol, source, s] of oldTicks)
    await query(
      url,
      `INSERT INTO ticks (symbol, coin_id, source, event_time, price, volume, ingest_time)
       VALUES ($1, $2, $3, $4, $5, 1, $4)`,
      [symbol, symbol.toLowerCase(), source, at(s), 100 + s]
    )
  for (const symbol of oldCandles)
    await query(
      url,
      `INSERT INTO candles (symbol, interval, bucket_start, open, high, low, close, volume, tick_count, vwap)
       VALUES ($1, '1m', $2, 1, 2, 0.5, 1.5, 3, 4, 1.2)`,
      [symbol, at(0)]
    )
  await query(
    url,
    `INSERT INTO dead_letters (topic, partition, "offset", reason, letter) VALUES ('t', 0, 7, 'decode', '{}')`
  )
}

const primaryKey = async (url: string, table: string) =>
  (
    await query<{ column: string }>(
      url,
      `SELECT a.attname AS column FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.n`,
      [table]
    )
  ).map((r) => r.column)

const snapshot = async (url: string) => ({
  ticks: await query(
    url,
    `SELECT market, symbol, source, extract(epoch FROM event_time)::int - ${t0 / 1000} AS s, trade_id::int, side
     FROM ticks ORDER BY market, event_time, source`
  ),
  candles: await query(url, "SELECT market, symbol FROM candles ORDER BY symbol"),
  legacy: await query(url, "SELECT symbol, market FROM market_legacy ORDER BY symbol"),
  markets: await query(
    url,
    `SELECT market, venue, base, quote, kind, extract(epoch FROM first_event_time)::int - ${t0 / 1000} AS first,
       extract(epoch FROM last_event_time)::int - ${t0 / 1000} AS last FROM markets ORDER BY market`
  ),
  deadLetters: await query(url, `SELECT "offset"::int, market FROM dead_letters`),
  keys: {
    ticks: await primaryKey(url, "ticks"),
    candles: await primaryKey(url, "candles"),
    gaps: await primaryKey(url, "gaps")
  }
})

const tick = (market: string, symbol: string, source: string, s: number) => ({
  market,
  symbol,
  source,
  s,
  trade_id: -1,
  side: null
})

const expected = {
  ticks: [
    tick("coingecko:BTC-USD", "BTC", "coingecko", 0),
    tick("coingecko:BTC-USD", "BTC", "coingecko", 60), // the replay tick at 60 s is the same observation: gone
    tick("coingecko:BTC-USD", "BTC", "replay", 90),
    tick("coingecko:BTC-USD", "BTC", "coingecko", 120),
    tick("simulator:BTC-USD", "BTC", "simulator", 60),
    tick("simulator:ETH-USD", "ETH", "simulator", 0),
    tick("simulator:ETH-USD", "ETH", "simulator", 5)
  ],
  candles: [
    { market: "coingecko:BTC-USD", symbol: "BTC" },
    { market: "coingecko:DOGE-USD", symbol: "DOGE" },
    { market: "simulator:ETH-USD", symbol: "ETH" }
  ],
  legacy: [
    { symbol: "BTC", market: "coingecko:BTC-USD" },
    { symbol: "DOGE", market: "coingecko:DOGE-USD" },
    { symbol: "ETH", market: "simulator:ETH-USD" }
  ],
  markets: [
    { market: "coingecko:BTC-USD", venue: "coingecko", base: "BTC", quote: "USD", kind: "sample", first: 0, last: 120 },
    {
      market: "coingecko:DOGE-USD",
      venue: "coingecko",
      base: "DOGE",
      quote: "USD",
      kind: "sample",
      first: null,
      last: null
    },
    { market: "simulator:BTC-USD", venue: "simulator", base: "BTC", quote: "USD", kind: "sample", first: 60, last: 60 },
    { market: "simulator:ETH-USD", venue: "simulator", base: "ETH", quote: "USD", kind: "sample", first: 0, last: 5 }
  ],
  deadLetters: [{ offset: 7, market: null }],
  keys: {
    ticks: ["market", "event_time", "trade_id"],
    candles: ["market", "interval", "bucket_start"],
    gaps: ["market", "from_id", "to_id"]
  }
}

/**
 * Migrates a database in today's format (through `client`, a layer on `url`) and checks every row carried over with
 * its market; then runs 0004 once more, which must change nothing, and stores trades sharing a millisecond.
 */
export const checkMigration0004 = async (url: string, client: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
    Effect.runPromise(Effect.provide(effect, client) as Effect.Effect<A, unknown>)
  await run(Effect.provide(before, NodeContext.layer))
  await fillToday(url)
  await run(migrate)
  expect(await snapshot(url)).toEqual(expected)
  await run(markets)
  expect(await snapshot(url)).toEqual(expected)
  // Trades: one millisecond, two ids, a side; the new key keeps both.
  for (const id of [41, 42])
    await query(
      url,
      `INSERT INTO ticks (market, symbol, coin_id, source, event_time, price, volume, ingest_time, trade_id, side)
       VALUES ('binance:BTC-USDT', 'BTC', 'BTCUSDT', 'binance', $1, 1, 1, $1, $2, 'buy')`,
      [at(1), id]
    )
  const trades = await query(url, "SELECT trade_id::int AS id FROM ticks WHERE market = 'binance:BTC-USDT' ORDER BY 1")
  expect(trades).toEqual([{ id: 41 }, { id: 42 }])
}
