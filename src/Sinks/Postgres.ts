import { SqlClient, SqlError, SqlSchema } from "@effect/sql"
import { Array as Arr, Context, Effect, Layer, Schema } from "effect"
import { Candle } from "../Domain/Candle.js"
import type { IndicatorValues } from "../Domain/Indicators.js"
import { Interval } from "../Domain/Interval.js"
import type { Tick } from "../Domain/Tick.js"

export interface CandleRow {
  readonly candle: Candle
  /** Indicator values as of this candle (provisional while it is open). */
  readonly indicators: IndicatorValues
}

export interface PartitionCheckpoint {
  readonly partition: number
  /** The next offset to read: everything before it is in this transaction or an earlier one. */
  readonly nextOffset: number
  /** The operator state after `nextOffset - 1`, as plain JSON. */
  readonly state: unknown
}

/** One checkpoint transaction: new ticks, touched candles, and the offsets and state they correspond to. */
export interface CheckpointBatch {
  readonly topic: string
  readonly owner: string
  readonly ticks: ReadonlyArray<Tick>
  readonly candles: ReadonlyArray<CandleRow>
  readonly checkpoints: ReadonlyArray<PartitionCheckpoint>
}

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
  bucketStart: Schema.DateFromSelf,
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

const CheckpointRecord = Schema.Struct({
  partition: Schema.Number,
  nextOffset: Schema.Union(Schema.Number, Schema.NumberFromString),
  state: Schema.Unknown
})

const toCandleRow = (r: CandleRecord): CandleRow => ({
  candle: new Candle({
    symbol: r.symbol,
    interval: r.interval,
    bucketStart: r.bucketStart.getTime(),
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    tickCount: r.tickCount,
    vwap: r.vwap
  }, { disableValidation: true }),
  indicators: {
    sma20: r.sma20,
    sma50: r.sma50,
    ema12: r.ema12,
    ema26: r.ema26,
    rsi14: r.rsi14,
    bollinger: r.bbUpper === null || r.bbMiddle === null || r.bbLower === null
      ? null
      : { upper: r.bbUpper, middle: r.bbMiddle, lower: r.bbLower }
  }
})

const timedOut = (what: string) => new SqlError.SqlError({ message: `${what} timed out`, cause: "timeout" })

/** Request-path reads answer fast or fail (the API turns the failure into a 503). */
const readTimeout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "5 seconds", onTimeout: () => timedOut("query") })

// Postgres allows 65,535 bind parameters per statement.
const chunk = <A>(rows: ReadonlyArray<A>, columns: number) => Arr.chunksOf(rows, Math.floor(60_000 / columns))

/** The durable record in Postgres: ticks, candles and the processor's checkpoints. */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const tickRecord = (t: Tick) => ({
    symbol: t.symbol,
    coinId: t.coinId,
    source: t.source,
    eventTime: new Date(t.eventTime),
    price: t.price,
    volume: t.volume ?? null,
    volume_24h: t.volume24h ?? null,
    marketCap: t.marketCap ?? null,
    change_24h: t.change24h ?? null,
    ingestTime: new Date(t.ingestTime)
  })
  const candleRecord = ({ candle: c, indicators: i }: CandleRow) => ({
    symbol: c.symbol,
    interval: c.interval,
    bucketStart: new Date(c.bucketStart),
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    tickCount: c.tickCount,
    vwap: c.vwap,
    sma20: i.sma20,
    sma50: i.sma50,
    ema12: i.ema12,
    ema26: i.ema26,
    rsi14: i.rsi14,
    bbUpper: i.bollinger?.upper ?? null,
    bbMiddle: i.bollinger?.middle ?? null,
    bbLower: i.bollinger?.lower ?? null,
    updatedAt: new Date()
  })

  const commit = (batch: CheckpointBatch): Effect.Effect<void, SqlError.SqlError> =>
    sql.withTransaction(Effect.gen(function*() {
      for (const rows of chunk(batch.ticks.map(tickRecord), 10)) {
        yield* sql`INSERT INTO ticks ${sql.insert(rows)} ON CONFLICT (symbol, event_time, source) DO NOTHING`
      }
      for (const rows of chunk(batch.candles.map(candleRecord), 19)) {
        yield* sql`INSERT INTO candles ${sql.insert(rows)}
          ON CONFLICT (symbol, interval, bucket_start) DO UPDATE SET
            open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
            volume = excluded.volume, tick_count = excluded.tick_count, vwap = excluded.vwap,
            sma20 = excluded.sma20, sma50 = excluded.sma50, ema12 = excluded.ema12, ema26 = excluded.ema26,
            rsi14 = excluded.rsi14, bb_upper = excluded.bb_upper, bb_middle = excluded.bb_middle,
            bb_lower = excluded.bb_lower, updated_at = excluded.updated_at`
      }
      if (batch.checkpoints.length > 0) {
        const rows = batch.checkpoints.map((c) => ({
          topic: batch.topic,
          partition: c.partition,
          nextOffset: c.nextOffset,
          state: JSON.stringify(c.state),
          owner: batch.owner,
          updatedAt: new Date()
        }))
        yield* sql`INSERT INTO processor_checkpoints ${sql.insert(rows)}
          ON CONFLICT (topic, partition) DO UPDATE SET
            next_offset = excluded.next_offset, state = excluded.state,
            owner = excluded.owner, updated_at = excluded.updated_at`
      }
    })).pipe(
      // v3's client has no statement timeout: bound it here, so a black-holed server is an error, not a hang.
      Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => timedOut("checkpoint transaction") }),
      Effect.withSpan("Store.commit")
    )

  const loadCheckpoints = (topic: string, partitions: ReadonlyArray<number>) =>
    SqlSchema.findAll({
      Request: Schema.Array(Schema.Number),
      Result: CheckpointRecord,
      execute: (ps) => sql`SELECT partition, next_offset, state FROM processor_checkpoints
        WHERE topic = ${topic} AND ${sql.in("partition", ps)}`
    })(partitions).pipe(
      Effect.map((rows) => new Map(rows.map((r) => [r.partition, { nextOffset: r.nextOffset, state: r.state }] as const))),
      Effect.orDie // our own rows: a mismatch is a bug, not input
    )

  const candles = (q: CandleQuery) =>
    SqlSchema.findAll({
      Request: Schema.Unknown,
      Result: CandleRecord,
      execute: () => sql`SELECT * FROM (
          SELECT * FROM candles
          WHERE symbol = ${q.symbol} AND interval = ${q.interval}
            ${q.from === undefined ? sql`` : sql`AND bucket_start >= ${new Date(q.from)}`}
            ${q.to === undefined ? sql`` : sql`AND bucket_start < ${new Date(q.to)}`}
          ORDER BY bucket_start DESC LIMIT ${q.limit}
        ) recent ORDER BY bucket_start ASC`
    })(undefined).pipe(
      readTimeout,
      Effect.map(Arr.map(toCandleRow)),
      Effect.catchTag("ParseError", Effect.die)
    )

  const symbols = sql<{ readonly symbol: string }>`SELECT DISTINCT symbol FROM candles WHERE interval = '1d' ORDER BY symbol`.pipe(
    readTimeout,
    Effect.map(Arr.map((r) => r.symbol))
  )

  const ping = sql`SELECT 1`.pipe(readTimeout, Effect.asVoid)

  return { commit, loadCheckpoints, candles, symbols, ping } as const
})

export class Store extends Context.Tag("app/Store")<Store, Effect.Effect.Success<typeof make>>() {}

export const layer = Layer.effect(Store, make)
