import type { SqlClient } from "@effect/sql"
import { SqlSchema } from "@effect/sql"
import { Array as Arr, Effect, Schema } from "effect"
import { Gap, GapReason } from "../Domain/Gap.js"
import { Asset, Market, Venue } from "../Domain/Market.js"
import { decodeCandleRecords, toCandleRow } from "./CandleRecord.js"
import { type CandleQuery, type DeadLetterQuery, timedOut } from "./Model.js"

// The read paths: what the API asks of the record.

/** Request-path reads answer fast or fail (the API turns the failure into a 503). */
export const readTimeout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "5 seconds", onTimeout: () => timedOut("query") })

export const candles = (sql: SqlClient.SqlClient) => (q: CandleQuery) =>
  // Columns named as the record wants them and the client's snake→camel pass skipped: 1,440 rows is the API's
  // biggest answer, and renaming each row's keys was a twentieth of its time.
  sql<object>`SELECT market, symbol, interval, round(extract(epoch FROM bucket_start) * 1000)::float8 AS "bucketStart",
        open, high, low, close, volume, tick_count AS "tickCount", vwap, status, gaps,
        first_trade_id::float8 AS "firstTradeId", last_trade_id::float8 AS "lastTradeId", sma20, sma50, ema12, ema26, rsi14,
        bb_upper AS "bbUpper", bb_middle AS "bbMiddle", bb_lower AS "bbLower"
      FROM (
        SELECT * FROM candles
        WHERE market = ${q.market} AND interval = ${q.interval}
          ${q.final === true ? sql`AND status <> 'provisional'` : sql``}
          ${q.from === undefined ? sql`` : sql`AND bucket_start >= ${new Date(q.from)}`}
          ${q.to === undefined ? sql`` : sql`AND bucket_start < ${new Date(q.to)}`}
        ORDER BY bucket_start DESC LIMIT ${q.limit}
      ) recent ORDER BY bucket_start ASC`.withoutTransform.pipe(
    readTimeout,
    Effect.flatMap(decodeCandleRecords),
    Effect.map(Arr.map(toCandleRow)),
    Effect.catchTag("ParseError", Effect.die)
  )

export const symbols = (sql: SqlClient.SqlClient) =>
  sql<{
    readonly symbol: string
  }>`SELECT DISTINCT symbol FROM candles WHERE interval = '1d' ORDER BY symbol`.pipe(
    readTimeout,
    Effect.map(Arr.map((r) => r.symbol))
  )

export const ping = (sql: SqlClient.SqlClient) => sql`SELECT 1`.pipe(readTimeout, Effect.asVoid)

export const checkpoints = (sql: SqlClient.SqlClient) =>
  sql<{
    topic: string
    partition: number
    nextOffset: string
    epoch: string
    owner: string
    updatedAt: Date
  }>`
  SELECT topic, partition, next_offset, epoch, owner, updated_at FROM processor_checkpoints ORDER BY topic, partition`.pipe(
    readTimeout,
    Effect.map(
      Arr.map((r) => ({
        ...r,
        nextOffset: Number(r.nextOffset),
        epoch: Number(r.epoch),
        updatedAt: r.updatedAt.getTime()
      }))
    )
  )

/** The newest dead letters first; `letter` parsed back (we wrote it with JSON.stringify). */
export const deadLetters = (sql: SqlClient.SqlClient) => (q: DeadLetterQuery) =>
  sql<{ topic: string; partition: number; offset: string; reason: string; letter: string; recordedAt: Date }>`
    SELECT topic, partition, "offset", reason, letter, recorded_at FROM dead_letters
    ${q.reason === undefined ? sql`` : sql`WHERE reason = ${q.reason}`}
    ORDER BY recorded_at DESC, topic, partition, "offset" DESC LIMIT ${q.limit}`.pipe(
    readTimeout,
    Effect.map(
      Arr.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        offset: Number(r.offset),
        reason: r.reason,
        recordedAt: r.recordedAt.getTime(),
        letter: JSON.parse(r.letter) as unknown
      }))
    )
  )

const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`

/** A row of the `markets` table: a market the processor has seen, and when. */
export const MarketRow = Schema.Struct({
  market: Market,
  venue: Venue,
  base: Asset,
  quote: Asset,
  kind: Schema.Literal("trades", "sample"),
  firstEventTime: Schema.NullOr(Schema.Number),
  lastEventTime: Schema.NullOr(Schema.Number)
})
export type MarketRow = typeof MarketRow.Type

/** Most markets a listing reads: far more than any configuration has, so a runaway table cannot flood a response. */
export const maxMarkets = 10_000

export const markets = (sql: SqlClient.SqlClient) =>
  SqlSchema.findAll({
    Request: Schema.Unknown,
    Result: MarketRow,
    execute: () =>
      sql`SELECT market, venue, base, quote, kind, ${sql.literal(ms("first_event_time"))} AS "firstEventTime",
        ${sql.literal(ms("last_event_time"))} AS "lastEventTime"
      FROM markets ORDER BY market LIMIT ${maxMarkets}`.withoutTransform
  })(undefined).pipe(readTimeout, Effect.catchTag("ParseError", Effect.die))

export interface GapQuery {
  readonly market: Market
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly limit: number
}

const GapRecord = Schema.Struct({
  market: Market,
  fromId: Schema.Number,
  toId: Schema.Number,
  fromTime: Schema.Number,
  toTime: Schema.Number,
  reason: GapReason,
  detectedAt: Schema.Number
})

/** A market's gaps overlapping [from, to), newest first (by the time of the trade after the gap). */
export const gaps = (sql: SqlClient.SqlClient) => (q: GapQuery) =>
  SqlSchema.findAll({
    Request: Schema.Unknown,
    Result: GapRecord,
    execute: () =>
      sql`SELECT market, from_id::float8 AS "fromId", to_id::float8 AS "toId", ${sql.literal(ms("from_time"))} AS "fromTime",
        ${sql.literal(ms("to_time"))} AS "toTime", reason, ${sql.literal(ms("detected_at"))} AS "detectedAt"
      FROM gaps WHERE market = ${q.market}
        ${q.from === undefined ? sql`` : sql`AND to_time >= ${new Date(q.from)}`}
        ${q.to === undefined ? sql`` : sql`AND from_time < ${new Date(q.to)}`}
      ORDER BY to_time DESC, from_id DESC LIMIT ${q.limit}`.withoutTransform
  })(undefined).pipe(
    readTimeout,
    Effect.map(Arr.map((r) => new Gap({ type: "gap", ...r }))),
    Effect.catchTag("ParseError", Effect.die)
  )
