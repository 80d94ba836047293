// The soak's invariants, from what the topic holds (the pipeline's input) and a fold written here, independent of
// src/: every tick once in Postgres, every candle field of every interval equal to the fold, nothing in the DLQ.
import { query } from "../../support/services.mjs"
import { topicTicks } from "./topic-ticks.mjs"

const sizes = { "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000 }

/**
 * Candles of the distinct ticks (first seen per symbol + event time), in any arrival order: open and close are the
 * prices at the lowest and highest event time, the sums are order-free up to rounding.
 */
const folder = () => {
  const seen = new Map()
  const candles = new Map()
  let records = 0
  let distinct = 0
  const add = (t) => {
    records++
    const times = seen.get(t.symbol) ?? seen.set(t.symbol, new Set()).get(t.symbol)
    if (times.has(t.eventTime)) return
    times.add(t.eventTime)
    distinct++
    for (const [interval, size] of Object.entries(sizes)) {
      const key = `${t.symbol}|${interval}|${Math.floor(t.eventTime / size) * size}`
      const c = candles.get(key)
      const v = t.volume ?? 0
      if (c === undefined) {
        const first = { open: t.price, high: t.price, low: t.price, close: t.price, volume: v, n: 1, pv: t.price * v }
        candles.set(key, { ...first, first: t.eventTime, last: t.eventTime })
        continue
      }
      if (t.eventTime < c.first) [c.first, c.open] = [t.eventTime, t.price]
      if (t.eventTime > c.last) [c.last, c.close] = [t.eventTime, t.price]
      c.high = Math.max(c.high, t.price)
      c.low = Math.min(c.low, t.price)
      c.volume += v
      c.n += 1
      c.pv += t.price * v
    }
  }
  return { add, result: () => ({ records, distinct, candles }) }
}

const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))

/** The invariants, each { check, ok, detail }. */
export const checkInvariants = async ({ brokers, topic, db }) => {
  const fold = folder()
  await topicTicks(brokers, topic, 0, Number.MAX_SAFE_INTEGER, 1_800_000, fold.add)
  const reference = fold.result()
  const [{ n, distinct }] = await query(
    db,
    "SELECT count(*)::bigint AS n, count(DISTINCT (symbol, event_time, source))::bigint AS distinct FROM ticks"
  )
  const rows = await query(
    db,
    `SELECT symbol, interval, (extract(epoch FROM bucket_start) * 1000)::bigint AS start,
            open, high, low, close, volume, tick_count, vwap FROM candles`
  )
  const wrong = []
  let bad = 0
  for (const r of rows) {
    const c = reference.candles.get(`${r.symbol}|${r.interval}|${r.start}`)
    const vwap = c === undefined ? Number.NaN : c.volume > 0 ? c.pv / c.volume : Number.NaN
    const equal =
      c !== undefined &&
      [r.open, r.high, r.low, r.close].every((x, i) => x === [c.open, c.high, c.low, c.close][i]) &&
      Number(r.tick_count) === c.n &&
      close(r.volume, c.volume) &&
      (Number.isNaN(vwap) || close(r.vwap, Math.min(c.high, Math.max(c.low, vwap))))
    if (!equal) bad++
    if (!equal && wrong.length < 5) wrong.push({ stored: r, reference: c ?? null })
  }
  const [{ dlq }] = await query(db, "SELECT count(*)::bigint AS dlq FROM dead_letters")
  return [
    {
      check: "every tick of the topic in Postgres exactly once",
      ok: Number(n) === reference.distinct && Number(distinct) === reference.distinct,
      detail: { topicRecords: reference.records, distinctTicks: reference.distinct, stored: Number(n) }
    },
    {
      check:
        "every candle of every interval equals the reference fold (open, high, low, close, volume, tickCount, vwap)",
      ok: rows.length === reference.candles.size && bad === 0,
      detail: { stored: rows.length, reference: reference.candles.size, wrong: bad, firstWrong: wrong }
    },
    {
      check: "nothing in dead_letters (every record was a good tick)",
      ok: Number(dlq) === 0,
      detail: { dlq: Number(dlq) }
    }
  ]
}
