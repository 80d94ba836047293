// What every throughput contender shares: a fresh migrated database, the poll of its checkpoint rows that times
// "claimed → all N ticks durable" the same way for each, and the check of what it left in Postgres.
import pg from "pg"
import { startCli } from "../../support/processes.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"

/** A fresh database migrated by `node dist/main.js migrate`; `drop()` removes it (also registered with `clean`). */
export const freshDatabase = async (env, clean, prefix) => {
  const name = unique(prefix)
  const url = await createDatabase(env.DATABASE_URL, name)
  let dropped = false
  const drop = async () => {
    if (dropped) return
    dropped = true
    await dropDatabase(env.DATABASE_URL, name)
  }
  clean.add(`database ${name}`, drop)
  const migrate = startCli("migrate", { DATABASE_URL: url })
  const migrated = await migrate.exited
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  return { name, url, drop }
}

/**
 * Polls `processor_checkpoints` of `topic` every 50 ms: claimed when its rows appear, done when `partitions` rows
 * cover `n` records. `onClaim` and `onDone` run at those polls (the CPU marks). Fails when `proc` exits first or after
 * `timeoutMs`. The timeline (≤ 1 point a second) gives the steady rate between 10 % and 90 % of the records.
 */
export const pollDurable = async ({ url, topic, n, partitions, proc, timeoutMs, onClaim, onDone }) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const deadline = Date.now() + timeoutMs
  let claimed
  let firstCheckpoint
  let done
  let lastSum = -1
  let advances = 0
  const timeline = []
  try {
    while (done === undefined) {
      if (!proc.alive()) throw new Error(`${proc.name} exited:\n${proc.output().slice(-3000)}`)
      if (Date.now() > deadline) throw new Error(`${proc.name}: not durable within ${timeoutMs} ms (${lastSum}/${n})`)
      const { rows } = await client.query(
        "SELECT next_offset::bigint AS o FROM processor_checkpoints WHERE topic = $1",
        [topic]
      )
      const t = Date.now()
      if (rows.length > 0 && claimed === undefined) {
        claimed = t
        onClaim?.()
      }
      const sum = rows.reduce((a, r) => a + Number(r.o), 0)
      if (sum !== lastSum) {
        if (sum > 0) advances++
        lastSum = sum
        if (timeline.length === 0 || t - timeline.at(-1).t >= 1000 || sum >= n) timeline.push({ t, records: sum })
      }
      if (sum > 0) firstCheckpoint ??= t
      if (rows.length === partitions && sum >= n) {
        done = t
        onDone?.()
      } else await sleep(50)
    }
  } finally {
    await client.end()
  }
  const at = (f) => timeline.find((p) => p.records >= f * n)
  const s10 = at(0.1)
  const s90 = at(0.9)
  return {
    claimed,
    done,
    durableSeconds: round((done - claimed) / 1000, 3),
    firstCheckpointAfterClaimSeconds: round((firstCheckpoint - claimed) / 1000, 2),
    checkpointAdvancesSeen: advances,
    steadyRate10to90:
      s10 && s90 && s90.t > s10.t ? round((s90.records - s10.records) / ((s90.t - s10.t) / 1000), 0) : null
  }
}

/**
 * What a contender left in Postgres: ticks (lost = n − rows; the key refuses a second copy) and, with `candles`, the
 * ticks each candle interval counts (double counted when more than n, lost when fewer).
 */
export const checkDatabase = async (url, n, { candles }) => {
  const [ticks] = await query(url, "SELECT count(*)::int AS n, count(DISTINCT symbol)::int AS symbols FROM ticks")
  const checks = { ticksInPostgres: ticks.n, symbolsInPostgres: ticks.symbols, lost: Math.max(0, n - ticks.n) }
  if (!candles) return { ...checks, doubleCounted: 0, ok: ticks.n === n }
  const rows = await query(
    url,
    "SELECT interval, sum(tick_count)::bigint AS n, count(*)::int AS rows FROM candles GROUP BY interval ORDER BY interval"
  )
  const counts = Object.fromEntries(rows.map((c) => [c.interval, { ticks: Number(c.n), rows: c.rows }]))
  const doubled = rows.reduce((m, c) => Math.max(m, Number(c.n) - n), 0)
  const candleLost = rows.length === 5 ? rows.reduce((m, c) => Math.max(m, n - Number(c.n)), 0) : n
  return {
    ...checks,
    candleTickCounts: counts,
    lost: Math.max(checks.lost, candleLost),
    doubleCounted: doubled,
    ok: ticks.n === n && rows.length === 5 && rows.every((c) => Number(c.n) === n)
  }
}
