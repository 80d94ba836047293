import { SqlClient, SqlError, SqlSchema } from "@effect/sql"
import { Array as Arr, Context, Data, type Duration, Effect, Layer, Schema } from "effect"
import { Candle } from "../Domain/Candle.js"
import type { IndicatorValues } from "../Domain/Indicators.js"
import { Interval } from "../Domain/Interval.js"
import type { Tick } from "../Domain/Tick.js"

export interface CandleRow {
  readonly candle: Candle
  /** Indicator values as of this candle (provisional while it is open). */
  readonly indicators: IndicatorValues
}

/** What one partition contributes to a checkpoint transaction. */
export interface PartitionCheckpoint {
  readonly partition: number
  /** The fencing token this writer got when it claimed the partition. */
  readonly epoch: number
  /** The next offset to read: everything before it is in this transaction or an earlier one. */
  readonly nextOffset: number
  /** The operator state after `nextOffset - 1`, as JSON text (serialised when the snapshot was taken). */
  readonly state: string
  readonly ticks: ReadonlyArray<Tick>
  readonly candles: ReadonlyArray<CandleRow>
  /** Records that could not be used, up to `nextOffset`: each as the JSON letter published to the DLQ topic. */
  readonly deadLetters: ReadonlyArray<DeadLetterRow>
}

export interface DeadLetterRow {
  readonly offset: number
  readonly reason: "decode" | "late" | "future"
  readonly letter: string
}

export interface DeadLetterQuery {
  readonly reason?: DeadLetterRow["reason"] | undefined
  readonly limit: number
}

/** One checkpoint transaction: per partition, the new ticks, the touched candles, and the offset and state they lead to. */
export interface CheckpointBatch {
  readonly topic: string
  readonly owner: string
  readonly partitions: ReadonlyArray<PartitionCheckpoint>
}

export interface Claim {
  readonly epoch: number
  readonly nextOffset: number
  /** The checkpointed operator state, or null for a partition never checkpointed. */
  readonly state: unknown
}

/** These partitions have a newer owner: nothing of this transaction was written. */
export class Fenced extends Data.TaggedError("Fenced")<{ readonly partitions: ReadonlyArray<number> }> {}

export interface CandleQuery {
  readonly symbol: string
  readonly interval: Interval
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly limit: number
}

const CandleRecord = Schema.Struct({
  symbol: Schema.String,
  interval: Interval,
  bucketStart: Schema.Number, // epoch ms, computed by the query: no Date per row
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number,
  tickCount: Schema.Number,
  vwap: Schema.Number,
  sma20: Schema.NullOr(Schema.Number),
  sma50: Schema.NullOr(Schema.Number),
  ema12: Schema.NullOr(Schema.Number),
  ema26: Schema.NullOr(Schema.Number),
  rsi14: Schema.NullOr(Schema.Number),
  bbUpper: Schema.NullOr(Schema.Number),
  bbMiddle: Schema.NullOr(Schema.Number),
  bbLower: Schema.NullOr(Schema.Number)
})
type CandleRecord = typeof CandleRecord.Type

const BigIntText = Schema.Union(Schema.Number, Schema.NumberFromString)
const ClaimRecord = Schema.Struct({
  partition: Schema.Number,
  epoch: BigIntText,
  nextOffset: BigIntText,
  state: Schema.Unknown
})

const toCandleRow = (r: CandleRecord): CandleRow => ({
  candle: new Candle(
    {
      symbol: r.symbol,
      interval: r.interval,
      bucketStart: r.bucketStart,
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
      tickCount: r.tickCount,
      vwap: r.vwap
    },
    { disableValidation: true }
  ),
  indicators: {
    sma20: r.sma20,
    sma50: r.sma50,
    ema12: r.ema12,
    ema26: r.ema26,
    rsi14: r.rsi14,
    bollinger:
      r.bbUpper === null || r.bbMiddle === null || r.bbLower === null
        ? null
        : { upper: r.bbUpper, middle: r.bbMiddle, lower: r.bbLower }
  }
})

const timedOut = (what: string) => new SqlError.SqlError({ message: `${what} timed out`, cause: "timeout" })

/** Request-path reads answer fast or fail (the API turns the failure into a 503). */
const readTimeout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "5 seconds", onTimeout: () => timedOut("query") })

// Rows per INSERT: bounds the size of one statement's arrays when a long outage let many ticks pile up.
const rowsPerStatement = 50_000

/** Bound on one checkpoint transaction, read at each commit; the fault model shortens it to reach the timeout path. */
export class CommitTimeout extends Context.Reference<CommitTimeout>()("app/Store/CommitTimeout", {
  defaultValue: (): Duration.DurationInput => "30 seconds"
}) {}

/** The durable record in Postgres: ticks, candles and the processor's checkpoints. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const commit = (batch: CheckpointBatch): Effect.Effect<void, SqlError.SqlError | Fenced> =>
    sql
      .withTransaction(
        Effect.gen(function* () {
          // Checkpoint rows first: they take the row locks that serialise this writer against a new owner's claim.
          const fenced: Array<number> = []
          for (const p of batch.partitions) {
            const updated = yield* sql`UPDATE processor_checkpoints
          SET next_offset = ${p.nextOffset}, state = ${p.state}::jsonb, owner = ${batch.owner}, updated_at = now()
          WHERE topic = ${batch.topic} AND partition = ${p.partition} AND epoch = ${p.epoch}
          RETURNING partition`
            if (updated.length === 0) fenced.push(p.partition)
          }
          if (fenced.length > 0) return yield* new Fenced({ partitions: fenced })
          // One statement per column array (unnest) rather than a multi-row VALUES list: a few parameters instead of
          // 10 per row, about twice as fast here for both the client (no statement of 60k placeholders to build) and
          // the server. Timestamps go as Date, converted by the driver exactly as single parameters are.
          for (const ticks of Arr.chunksOf(
            batch.partitions.flatMap((p) => p.ticks),
            rowsPerStatement
          )) {
            yield* sql`INSERT INTO ticks (symbol, coin_id, source, event_time, price, volume, volume_24h, market_cap, change_24h, ingest_time)
          SELECT * FROM unnest(
            ${ticks.map((t) => t.symbol)}::text[], ${ticks.map((t) => t.coinId)}::text[], ${ticks.map((t) => t.source)}::text[],
            ${ticks.map((t) => new Date(t.eventTime))}::timestamptz[], ${ticks.map((t) => t.price)}::float8[],
            ${ticks.map((t) => t.volume ?? null)}::float8[], ${ticks.map((t) => t.volume24h ?? null)}::float8[],
            ${ticks.map((t) => t.marketCap ?? null)}::float8[], ${ticks.map((t) => t.change24h ?? null)}::float8[],
            ${ticks.map((t) => new Date(t.ingestTime))}::timestamptz[])
          ON CONFLICT (symbol, event_time, source) DO NOTHING`
          }
          const dead = batch.partitions.flatMap((p) => p.deadLetters.map((d) => ({ ...d, partition: p.partition })))
          if (dead.length > 0) {
            yield* sql`INSERT INTO dead_letters (topic, partition, "offset", reason, letter)
          SELECT ${batch.topic}, * FROM unnest(${dead.map((d) => d.partition)}::int4[], ${dead.map((d) => d.offset)}::int8[],
            ${dead.map((d) => d.reason)}::text[], ${dead.map((d) => d.letter)}::text[])
          ON CONFLICT DO NOTHING`
          }
          // One row per candle: DO UPDATE refuses to touch a row twice in one statement (a symbol is in one partition,
          // unless a producer keyed it otherwise).
          const byKey = new Map<string, CandleRow>()
          for (const p of batch.partitions)
            for (const row of p.candles)
              byKey.set(`${row.candle.symbol}|${row.candle.interval}|${row.candle.bucketStart}`, row)
          for (const rows of Arr.chunksOf([...byKey.values()], rowsPerStatement)) {
            const candles = rows.map((r) => r.candle)
            const indicators = rows.map((r) => r.indicators)
            yield* sql`INSERT INTO candles (symbol, "interval", bucket_start, open, high, low, close, volume, tick_count, vwap,
            sma20, sma50, ema12, ema26, rsi14, bb_upper, bb_middle, bb_lower, updated_at)
          SELECT *, now() FROM unnest(
            ${candles.map((c) => c.symbol)}::text[], ${candles.map((c) => c.interval)}::text[],
            ${candles.map((c) => new Date(c.bucketStart))}::timestamptz[], ${candles.map((c) => c.open)}::float8[],
            ${candles.map((c) => c.high)}::float8[], ${candles.map((c) => c.low)}::float8[], ${candles.map((c) => c.close)}::float8[],
            ${candles.map((c) => c.volume)}::float8[], ${candles.map((c) => c.tickCount)}::int4[], ${candles.map((c) => c.vwap)}::float8[],
            ${indicators.map((i) => i.sma20)}::float8[], ${indicators.map((i) => i.sma50)}::float8[],
            ${indicators.map((i) => i.ema12)}::float8[], ${indicators.map((i) => i.ema26)}::float8[], ${indicators.map((i) => i.rsi14)}::float8[],
            ${indicators.map((i) => i.bollinger?.upper ?? null)}::float8[], ${indicators.map((i) => i.bollinger?.middle ?? null)}::float8[],
            ${indicators.map((i) => i.bollinger?.lower ?? null)}::float8[])
          ON CONFLICT (symbol, interval, bucket_start) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, tick_count = excluded.tick_count, vwap = excluded.vwap,
            sma20 = excluded.sma20, sma50 = excluded.sma50, ema12 = excluded.ema12, ema26 = excluded.ema26,
            rsi14 = excluded.rsi14, bb_upper = excluded.bb_upper, bb_middle = excluded.bb_middle,
            bb_lower = excluded.bb_lower, updated_at = excluded.updated_at`
          }
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

  /** Takes ownership of partitions: bumps each one's epoch (fencing out the previous owner) and returns its checkpoint. */
  const claim = (topic: string, partitions: ReadonlyArray<number>, owner: string) =>
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
              (r) =>
                [r.partition, { epoch: r.epoch, nextOffset: r.nextOffset, state: r.state } satisfies Claim] as const
            )
          )
      ),
      Effect.catchTag("ParseError", Effect.die) // our own rows: a mismatch is a bug, not input
    )

  const candles = (q: CandleQuery) =>
    SqlSchema.findAll({
      Request: Schema.Unknown,
      Result: CandleRecord,
      // Columns named as the record wants them and the client's snake→camel pass skipped: 1,440 rows is the API's
      // biggest answer, and renaming each row's keys was a twentieth of its time.
      execute: () =>
        sql`SELECT symbol, interval, round(extract(epoch FROM bucket_start) * 1000)::float8 AS "bucketStart",
          open, high, low, close, volume, tick_count AS "tickCount", vwap, sma20, sma50, ema12, ema26, rsi14,
          bb_upper AS "bbUpper", bb_middle AS "bbMiddle", bb_lower AS "bbLower"
        FROM (
          SELECT * FROM candles
          WHERE symbol = ${q.symbol} AND interval = ${q.interval}
            ${q.from === undefined ? sql`` : sql`AND bucket_start >= ${new Date(q.from)}`}
            ${q.to === undefined ? sql`` : sql`AND bucket_start < ${new Date(q.to)}`}
          ORDER BY bucket_start DESC LIMIT ${q.limit}
        ) recent ORDER BY bucket_start ASC`.withoutTransform
    })(undefined).pipe(readTimeout, Effect.map(Arr.map(toCandleRow)), Effect.catchTag("ParseError", Effect.die))

  const symbols = sql<{
    readonly symbol: string
  }>`SELECT DISTINCT symbol FROM candles WHERE interval = '1d' ORDER BY symbol`.pipe(
    readTimeout,
    Effect.map(Arr.map((r) => r.symbol))
  )

  const ping = sql`SELECT 1`.pipe(readTimeout, Effect.asVoid)

  const checkpoints = sql<{
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
  const deadLetters = (q: DeadLetterQuery) =>
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

  return { commit, claim, candles, symbols, ping, checkpoints, deadLetters } as const
})

export class Store extends Context.Tag("app/Store")<Store, Effect.Effect.Success<typeof make>>() {}

export const layer = Layer.effect(Store, make)
