import { type SqlClient, type SqlError, SqlSchema } from "@effect/sql"
import { Array as Arr, Effect, Schema } from "effect"
import { tickMarket } from "../Domain/TickMarket.js"
import { markGaps, upsertChecks } from "./CheckRows.js"
import { insertGaps, upsertMarkets } from "./MarketRows.js"
import { type CandleRow, type CheckpointBatch, type Claim, CommitTimeout, Fenced, timedOut } from "./Model.js"
import { checkPartitions } from "./PartitionCheck.js"

// The write path: the processor's checkpoint transaction and its claims on partitions.

// Rows per INSERT: bounds the size of one statement's arrays when a long outage let many ticks pile up.
const rowsPerStatement = 50_000

const BigIntText = Schema.Union(Schema.Number, Schema.NumberFromString)
const ClaimRecord = Schema.Struct({
  partition: Schema.Number,
  epoch: BigIntText,
  nextOffset: BigIntText,
  state: Schema.Unknown
})

/**
 * One checkpoint transaction: fenced checkpoint rows, then the ticks, dead letters, candles, gaps (and their marks on
 * candles closed before them), checks and markets, all or nothing.
 */
export const commit =
  (sql: SqlClient.SqlClient) =>
  (batch: CheckpointBatch): Effect.Effect<void, SqlError.SqlError | Fenced> =>
    sql
      .withTransaction(
        Effect.gen(function* () {
          // Checkpoint rows first: they take the row locks that serialise this writer against a new owner's claim.
          yield* fence(sql, batch)
          yield* insertTicks(sql, batch)
          yield* insertDeadLetters(sql, batch)
          yield* upsertCandles(sql, batch)
          yield* insertGaps(sql, batch)
          yield* markGaps(sql, batch) // after the candles: it marks what they did not already list
          yield* upsertChecks(sql, batch)
          yield* upsertMarkets(sql, batch)
        })
      )
      .pipe(
        // v3's client has no statement timeout: bound it here, so a black-holed server is an error, not a hang.
        (transaction) =>
          Effect.flatMap(CommitTimeout, (duration) =>
            Effect.timeoutFail(transaction, { duration, onTimeout: () => timedOut("checkpoint transaction") })
          ),
        Effect.withSpan("Store.commit")
      )

// One UPDATE for every partition of the batch (one round trip, not one per partition); a partition it did not update
// has a newer epoch: fenced.
const fence = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    const ps = batch.partitions
    const updated = yield* sql<{ readonly partition: number }>`UPDATE processor_checkpoints c
        SET next_offset = u.next_offset, state = u.state::jsonb, owner = ${batch.owner}, updated_at = now()
        FROM unnest(${ps.map((p) => p.partition)}::int4[], ${ps.map((p) => p.epoch)}::int8[],
          ${ps.map((p) => p.nextOffset)}::int8[], ${ps.map((p) => p.state)}::text[]) AS u(partition, epoch, next_offset, state)
        WHERE c.topic = ${batch.topic} AND c.partition = u.partition AND c.epoch = u.epoch
        RETURNING c.partition`
    const done = new Set(updated.map((r) => r.partition))
    const fenced = ps.filter((p) => !done.has(p.partition)).map((p) => p.partition)
    if (fenced.length > 0) return yield* new Fenced({ partitions: fenced })
  })

// One statement per column array (unnest) rather than a multi-row VALUES list: a few parameters instead of
// 10 per row, about twice as fast here for both the client (no statement of 60k placeholders to build) and
// the server. The arrays go as literals built here (see `textArray`): the driver's generic path, a type test and a
// Date formatter per element, took about as long as the server's insert.
const insertTicks = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    for (const ticks of Arr.chunksOf(
      batch.partitions.flatMap((p) => p.ticks),
      rowsPerStatement
    )) {
      yield* sql`INSERT INTO ticks (market, symbol, coin_id, source, event_time, price, volume, volume_24h, market_cap,
            change_24h, ingest_time, trade_id, side)
          SELECT * FROM unnest(
            ${textArray(ticks, tickMarket)}::text[], ${textArray(ticks, (t) => t.symbol)}::text[],
            ${textArray(ticks, (t) => t.coinId)}::text[], ${textArray(ticks, (t) => t.source)}::text[],
            ${timeArray(ticks, (t) => t.eventTime)}::timestamptz[], ${numberArray(ticks, (t) => t.price)}::float8[],
            ${numberArray(ticks, (t) => t.volume)}::float8[], ${numberArray(ticks, (t) => t.volume24h)}::float8[],
            ${numberArray(ticks, (t) => t.marketCap)}::float8[], ${numberArray(ticks, (t) => t.change24h)}::float8[],
            ${timeArray(ticks, (t) => t.ingestTime)}::timestamptz[], ${numberArray(ticks, (t) => t.tradeId ?? -1)}::int8[],
            ${textArray(ticks, (t) => t.side)}::text[])
          ON CONFLICT (market, event_time, trade_id) DO NOTHING`
    }
  })

// Postgres array literals, element for element the text node-postgres sends for an array parameter: each element
// double-quoted with backslashes and quotes escaped, NULL for null and undefined, numbers as `String(n)`.
const quoted = (s: string) =>
  s.includes('"') || s.includes("\\") ? `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : `"${s}"`
const literal = <A, V>(rows: ReadonlyArray<A>, value: (a: A) => V | null | undefined, show: (v: V) => string) => {
  let text = "{"
  for (let i = 0; i < rows.length; i++) {
    const v = value(rows[i]!)
    text += `${i === 0 ? "" : ","}${v === null || v === undefined ? "NULL" : show(v)}`
  }
  return `${text}}`
}
const textArray = <A>(rows: ReadonlyArray<A>, value: (a: A) => string | null | undefined) =>
  literal(rows, value, quoted)
const numberArray = <A>(rows: ReadonlyArray<A>, value: (a: A) => number | null | undefined) =>
  literal(rows, value, (n) => `"${String(n)}"`)
// The last millisecond toISOString writes as a four-digit year; later ones (up to EpochMillis's bound) go as Dates.
const lastIsoMillis = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
/** Event times as ISO 8601 UTC text (the same instants the driver's local-time text of a Date names). */
const timeArray = <A>(rows: ReadonlyArray<A>, millis: (a: A) => number) =>
  rows.every((r) => millis(r) <= lastIsoMillis)
    ? literal(rows, millis, (ms) => new Date(ms).toISOString())
    : rows.map((r) => new Date(millis(r)))

const insertDeadLetters = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    const dead = batch.partitions.flatMap((p) => p.deadLetters.map((d) => ({ ...d, partition: p.partition })))
    if (dead.length > 0) {
      yield* sql`INSERT INTO dead_letters (topic, partition, "offset", reason, letter, market)
          SELECT ${batch.topic}, * FROM unnest(${dead.map((d) => d.partition)}::int4[], ${dead.map((d) => d.offset)}::int8[],
            ${dead.map((d) => d.reason)}::text[], ${dead.map((d) => d.letter)}::text[], ${dead.map((d) => d.market ?? null)}::text[])
          ON CONFLICT DO NOTHING`
    }
  })

const upsertCandles = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    // One row per candle: DO UPDATE refuses to touch a row twice in one statement (a market is in one partition,
    // unless a producer keyed it otherwise).
    const byKey = new Map<string, CandleRow>()
    for (const p of batch.partitions)
      for (const row of p.candles)
        byKey.set(`${row.candle.market}|${row.candle.interval}|${row.candle.bucketStart}`, row)
    for (const rows of Arr.chunksOf([...byKey.values()], rowsPerStatement)) {
      const candles = rows.map((r) => r.candle)
      const indicators = rows.map((r) => r.indicators)
      yield* sql`INSERT INTO candles (market, symbol, "interval", bucket_start, open, high, low, close, volume, tick_count, vwap,
            sma20, sma50, ema12, ema26, rsi14, bb_upper, bb_middle, bb_lower, status, gaps, first_trade_id, last_trade_id,
            updated_at)
          SELECT *, now() FROM unnest(
            ${candles.map((c) => c.market)}::text[], ${candles.map((c) => c.symbol)}::text[], ${candles.map((c) => c.interval)}::text[],
            ${candles.map((c) => new Date(c.bucketStart))}::timestamptz[], ${candles.map((c) => c.open)}::float8[],
            ${candles.map((c) => c.high)}::float8[], ${candles.map((c) => c.low)}::float8[], ${candles.map((c) => c.close)}::float8[],
            ${candles.map((c) => c.volume)}::float8[], ${candles.map((c) => c.tickCount)}::int4[],
            ${candles.map((c) => c.vwap)}::float8[],
            ${indicators.map((i) => i.sma20)}::float8[], ${indicators.map((i) => i.sma50)}::float8[],
            ${indicators.map((i) => i.ema12)}::float8[], ${indicators.map((i) => i.ema26)}::float8[],
            ${indicators.map((i) => i.rsi14)}::float8[],
            ${indicators.map((i) => i.bollinger?.upper ?? null)}::float8[], ${indicators.map((i) => i.bollinger?.middle ?? null)}::float8[],
            ${indicators.map((i) => i.bollinger?.lower ?? null)}::float8[],
            ${candles.map((c) => c.status)}::text[], ${candles.map((c) => JSON.stringify(c.gaps))}::jsonb[],
            ${candles.map((c) => c.firstTradeId)}::int8[], ${candles.map((c) => c.lastTradeId)}::int8[])
          ON CONFLICT (market, interval, bucket_start) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, tick_count = excluded.tick_count, vwap = excluded.vwap,
            sma20 = excluded.sma20, sma50 = excluded.sma50, ema12 = excluded.ema12, ema26 = excluded.ema26,
            rsi14 = excluded.rsi14, bb_upper = excluded.bb_upper, bb_middle = excluded.bb_middle,
            bb_lower = excluded.bb_lower, status = excluded.status, gaps = excluded.gaps,
            first_trade_id = excluded.first_trade_id, last_trade_id = excluded.last_trade_id,
            updated_at = excluded.updated_at`
    }
  })

/**
 * Takes ownership of partitions: bumps each one's epoch (fencing out the previous owner) and returns its checkpoint.
 * Given the topic's partition count, first checks it against the checkpoints' (see PartitionCheck.ts); with no
 * partitions, that check alone.
 */
export const claim =
  (sql: SqlClient.SqlClient) =>
  (topic: string, partitions: ReadonlyArray<number>, owner: string, partitionCount?: number) => {
    const claimed =
      partitions.length === 0 ? Effect.succeed(new Map<number, Claim>()) : claimOnly(sql, topic, partitions, owner)
    const transaction =
      partitionCount === undefined
        ? claimed
        : sql.withTransaction(Effect.zipRight(checkPartitions(sql, topic, partitionCount), claimed))
    // Bounded as a commit is: a hung server is an error the caller retries, not a consumer stuck in its assignment.
    return Effect.flatMap(CommitTimeout, (duration) =>
      Effect.timeoutFail(transaction, { duration, onTimeout: () => timedOut("claim") })
    )
  }

const claimOnly = (sql: SqlClient.SqlClient, topic: string, partitions: ReadonlyArray<number>, owner: string) =>
  SqlSchema.findAll({
    Request: Schema.Array(Schema.Number),
    Result: ClaimRecord,
    execute: (ps) => {
      const rows = ps.map((partition) => ({
        topic,
        partition,
        nextOffset: 0,
        state: null,
        owner,
        epoch: 1,
        updatedAt: new Date()
      }))
      return sql`INSERT INTO processor_checkpoints ${sql.insert(rows)}
        ON CONFLICT (topic, partition) DO UPDATE SET
          epoch = processor_checkpoints.epoch + 1, owner = excluded.owner, updated_at = excluded.updated_at
        RETURNING partition, epoch, next_offset, state`
    }
  })(partitions).pipe(
    Effect.map(
      (rows) =>
        new Map(
          rows.map(
            (r) => [r.partition, { epoch: r.epoch, nextOffset: r.nextOffset, state: r.state } satisfies Claim] as const
          )
        )
    ),
    Effect.catchTag("ParseError", Effect.die) // our own rows: a mismatch is a bug, not input
  )
