import type { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { isMarket, type Market, marketParts } from "../Domain/Market.js"
import { tickMarket } from "../Domain/TickMarket.js"
import type { CheckpointBatch } from "./Model.js"

// The checkpoint's market rows (docs/markets.md, "Postgres"): gaps, and the markets touched.

/** Gaps, once each: a replay after a crash reads them again, and their key refuses the second copy. */
export const insertGaps = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    const gaps = batch.partitions.flatMap((p) => p.gaps)
    if (gaps.length === 0) return
    yield* sql`INSERT INTO gaps (market, from_id, to_id, from_time, to_time, reason, detected_at)
      SELECT * FROM unnest(${gaps.map((g) => g.market)}::text[], ${gaps.map((g) => g.fromId)}::int8[],
        ${gaps.map((g) => g.toId)}::int8[], ${gaps.map((g) => new Date(g.fromTime))}::timestamptz[],
        ${gaps.map((g) => new Date(g.toTime))}::timestamptz[], ${gaps.map((g) => g.reason)}::text[],
        ${gaps.map((g) => new Date(g.detectedAt))}::timestamptz[])
      ON CONFLICT (market, from_id, to_id) DO NOTHING`
  })

interface Seen {
  first: number
  last: number
}

/** The event times of the batch's ticks per market; a market with only gaps has no times (null keeps the row's). */
const touched = (batch: CheckpointBatch): Map<Market, Seen | undefined> => {
  const markets = new Map<Market, Seen | undefined>()
  for (const p of batch.partitions) {
    for (const t of p.ticks) {
      const market = tickMarket(t)
      const seen = markets.get(market)
      if (seen === undefined) markets.set(market, { first: t.eventTime, last: t.eventTime })
      else {
        if (t.eventTime < seen.first) seen.first = t.eventTime
        if (t.eventTime > seen.last) seen.last = t.eventTime
      }
    }
    for (const g of p.gaps) if (!markets.has(g.market)) markets.set(g.market, undefined)
  }
  return markets
}

const kindOf = (venue: string) =>
  venue === "binance" || venue === "coinbase" || venue === "kraken" ? "trades" : "sample"

/** The `markets` row of every market the batch touched: created when new, its first and last event times widened. */
export const upsertMarkets = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    // Markets a tick of old was given (sampleMarket of a symbol and USD) may not be valid ones (USD-USD): skipped.
    const rows = [...touched(batch)].filter(([market]) => isMarket(market))
    if (rows.length === 0) return
    const parts = rows.map(([market]) => marketParts(market))
    const time = (t: number | undefined) => (t === undefined ? null : new Date(t))
    yield* sql`INSERT INTO markets (market, venue, base, quote, kind, first_event_time, last_event_time, updated_at)
      SELECT *, now() FROM unnest(${rows.map(([m]) => m)}::text[], ${parts.map((p) => p.venue)}::text[],
        ${parts.map((p) => p.base)}::text[], ${parts.map((p) => p.quote)}::text[],
        ${parts.map((p) => kindOf(p.venue))}::text[], ${rows.map(([, s]) => time(s?.first))}::timestamptz[],
        ${rows.map(([, s]) => time(s?.last))}::timestamptz[])
      ON CONFLICT (market) DO UPDATE SET
        first_event_time = LEAST(markets.first_event_time, excluded.first_event_time),
        last_event_time = GREATEST(markets.last_event_time, excluded.last_event_time),
        updated_at = excluded.updated_at`
  })

/** market_legacy (migration 0004): the market of each symbol of the rows from before markets. */
export const marketLegacy = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ readonly symbol: string; readonly market: string }>`SELECT symbol, market FROM market_legacy`,
    (rows) => new Map(rows.flatMap((r) => (isMarket(r.market) ? [[r.symbol, r.market] as const] : [])))
  )
