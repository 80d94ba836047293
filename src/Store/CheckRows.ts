import { type SqlClient, SqlSchema } from "@effect/sql"
import { Array as Arr, Effect, Schema } from "effect"
import { CandleCheck, CheckedCandle, CheckResult, GapRef } from "../Domain/Completeness.js"
import { intervalMillis, intervals } from "../Domain/Interval.js"
import { Kline } from "../Domain/Kline.js"
import type { Market } from "../Domain/Market.js"
import type { CheckpointBatch, CheckQuery } from "./Model.js"
import { readTimeout } from "./Reads.js"

// The checkpoint's completeness rows (docs/completeness.md, "Postgres"): candle checks, and a late gap's mark on the
// candles that closed before it arrived. And their read path.

/** Each check once per (market, minute): a replay after a crash makes the same check and writes the same row. */
export const upsertChecks = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    // DO UPDATE refuses to touch a row twice in one statement: the last check of a minute wins.
    const byKey = new Map<string, CandleCheck>()
    for (const p of batch.partitions) for (const c of p.checks) byKey.set(`${c.market}|${c.bucketStart}`, c)
    const checks = [...byKey.values()]
    if (checks.length === 0) return
    const json = (v: unknown) => (v === null ? null : JSON.stringify(v))
    // mismatched goes as one comma list per row (unnest cannot take an array of arrays of varying lengths).
    yield* sql`INSERT INTO candle_checks (market, bucket_start, result, mismatched, ours, theirs, gaps, checked_at)
      SELECT market, bucket_start, result, string_to_array(mismatched, ','), ours, theirs, gaps, checked_at
      FROM unnest(${checks.map((c) => c.market)}::text[], ${checks.map((c) => new Date(c.bucketStart))}::timestamptz[],
        ${checks.map((c) => c.result)}::text[], ${checks.map((c) => c.mismatched.join(","))}::text[],
        ${checks.map((c) => json(c.ours))}::jsonb[], ${checks.map((c) => json(encodeKline(c.theirs)))}::jsonb[],
        ${checks.map((c) => json(c.gaps))}::jsonb[], ${checks.map((c) => new Date(c.checkedAt))}::timestamptz[])
        AS c(market, bucket_start, result, mismatched, ours, theirs, gaps, checked_at)
      ON CONFLICT (market, bucket_start) DO UPDATE SET
        result = excluded.result, mismatched = excluded.mismatched, ours = excluded.ours, theirs = excluded.theirs,
        gaps = excluded.gaps, checked_at = excluded.checked_at, stored_at = now()`
  })

const encodeKline = Schema.encodeSync(Kline)

// bucket_start + the interval's length, in SQL.
const lengths = intervals.map((i) => `WHEN '${i}' THEN ${intervalMillis[i]}`).join(" ")
const bucketEnd = `bucket_start + (CASE interval ${lengths} END) * interval '1 millisecond'`

/**
 * A gap marks the stored candles it touches: those that closed before it arrived are not emitted again by the
 * operator, so only this UPDATE gives them the gap. After the candles of the same checkpoint, in the order the gaps
 * came; a candle already listing the gap (the operator's own, or a replay) is left alone. Values never change.
 */
export const markGaps = (sql: SqlClient.SqlClient, batch: CheckpointBatch) =>
  Effect.gen(function* () {
    for (const p of batch.partitions) {
      for (const g of p.gaps) {
        const ref = JSON.stringify([{ fromId: g.fromId, toId: g.toId }])
        yield* sql`UPDATE candles SET gaps = gaps || ${ref}::jsonb,
            status = CASE WHEN status = 'provisional' THEN status ELSE 'gap' END
          WHERE market = ${g.market} AND bucket_start <= ${new Date(g.toTime)}
            AND ${sql.literal(bucketEnd)} > ${new Date(g.fromTime)} AND NOT gaps @> ${ref}::jsonb`
      }
    }
  })

const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`

const CheckRecord = Schema.Struct({
  market: Schema.String,
  bucketStart: Schema.Number,
  result: CheckResult,
  mismatched: Schema.Array(Schema.String),
  ours: Schema.NullOr(CheckedCandle),
  theirs: Kline,
  gaps: Schema.Array(GapRef),
  checkedAt: Schema.Number
})

export interface CheckSummary {
  readonly match: number
  readonly mismatch: number
  readonly gap: number
  readonly missing: number
}

const window = (sql: SqlClient.SqlClient, q: CheckQuery) =>
  sql`market = ${q.market}
    ${q.from === undefined ? sql`` : sql`AND bucket_start >= ${new Date(q.from)}`}
    ${q.to === undefined ? sql`` : sql`AND bucket_start < ${new Date(q.to)}`}`

/** A market's checks in [from, to), newest first (at most `limit`, of `result` when given), and the counts of each result there. */
export const checks = (sql: SqlClient.SqlClient) => (q: CheckQuery) =>
  Effect.all({
    checks: SqlSchema.findAll({
      Request: Schema.Unknown,
      Result: CheckRecord,
      execute: () =>
        sql`SELECT market, ${sql.literal(ms("bucket_start"))} AS "bucketStart", result, mismatched, ours, theirs, gaps,
          ${sql.literal(ms("checked_at"))} AS "checkedAt"
        FROM candle_checks WHERE ${window(sql, q)} ${q.result === undefined ? sql`` : sql`AND result = ${q.result}`}
        ORDER BY bucket_start DESC LIMIT ${q.limit}`.withoutTransform
    })(undefined).pipe(
      Effect.map(Arr.map((r) => new CandleCheck({ ...r, market: r.market as Market, interval: "1m" }))),
      Effect.catchTag("ParseError", Effect.die) // our own rows
    ),
    summary: Effect.map(
      sql<{ readonly result: string; readonly n: number }>`SELECT result, count(*)::int AS n FROM candle_checks
        WHERE ${window(sql, q)} GROUP BY result`.withoutTransform,
      (rows): CheckSummary => {
        const n = (result: string) => rows.find((r) => r.result === result)?.n ?? 0
        return { match: n("match"), mismatch: n("mismatch"), gap: n("gap"), missing: n("missing") }
      }
    )
  }).pipe(readTimeout)
