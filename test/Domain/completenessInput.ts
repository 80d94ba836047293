import { FastCheck as fc } from "effect"
import { Gap } from "../../src/Domain/Gap.js"
import { Kline } from "../../src/Domain/Kline.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"

// Random venue runs for the completeness tests: a market's aggregate trades (each covering 1-3 raw trade ids), the
// venue's own 1m klines computed here from all of its trades (so independently of src/), a range of trades lost with
// a gap record, and a delivery order with bounded delays, duplicates and (optionally) trades past the lateness.

export const lateness = 120_000
export const MINUTE = 60_000
const epoch = Date.UTC(2025, 10, 1, 10)
export const markets = ["binance:BTC-USDT" as Market, "binance:ETH-USDT" as Market]

export interface VenueTrade {
  readonly tick: Tick
  readonly rawFirst: number
  readonly rawLast: number
  /** Price and size as the venue writes them. */
  readonly price: string
  readonly size: string
}

export type Rec =
  | { readonly _tag: "tick"; readonly tick: Tick }
  | { readonly _tag: "gap"; readonly gap: Gap }
  | {
      readonly _tag: "kline"
      readonly kline: Kline
    }

export interface Run {
  /** Every trade the venue made, per market, in id order. */
  readonly trades: ReadonlyArray<VenueTrade>
  readonly lost: ReadonlyArray<VenueTrade>
  readonly gaps: ReadonlyArray<Gap>
  readonly klines: ReadonlyArray<Kline>
  readonly records: ReadonlyArray<Rec>
}

const tradeArb = fc.record({
  step: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
    fc.integer({ min: 60_000, max: 150_000 })
  ),
  cents: fc.integer({ min: 100, max: 1_000_000 }),
  thousandths: fc.integer({ min: 1, max: 10_000 }),
  raw: fc.integer({ min: 1, max: 3 })
})

const venueTrades = (
  market: Market,
  rows: ReadonlyArray<typeof tradeArb extends fc.Arbitrary<infer T> ? T : never>
) => {
  let time = epoch
  let raw = 1_000
  return rows.map((r, i): VenueTrade => {
    time += r.step + 1 // strictly increasing: the venue's order is the time order
    const rawFirst = raw
    raw += r.raw
    const price = String(r.cents / 100)
    const size = String(r.thousandths / 1000)
    const tick = new Tick({
      symbol: market.slice(8, market.indexOf("-")),
      coinId: market.slice(8).replace("-", ""),
      price: Number(price),
      volume: Number(size),
      eventTime: time,
      source: "binance",
      ingestTime: time,
      market,
      tradeId: 500 + i,
      side: "buy",
      firstTradeId: rawFirst,
      lastTradeId: raw - 1
    })
    return { tick, rawFirst, rawLast: raw - 1, price, size }
  })
}

/** Thousandths as decimal text ("12.345"), summed exactly. */
const sizeSum = (trades: ReadonlyArray<VenueTrade>): string => {
  const total = trades.reduce((s, t) => s + Math.round(Number(t.size) * 1000), 0)
  return `${Math.floor(total / 1000)}.${String(total % 1000).padStart(3, "0")}`
}

/** The venue's klines of every minute from its first trade's to its last's (a minute with no trade: n 0, f/L -1). */
export const venueKlines = (market: Market, trades: ReadonlyArray<VenueTrade>): Array<Kline> => {
  if (trades.length === 0) return []
  const first = Math.floor(trades[0]!.tick.eventTime / MINUTE) * MINUTE
  const out: Array<Kline> = []
  let previous = trades[0]!.price
  for (let start = first; start <= trades.at(-1)!.tick.eventTime; start += MINUTE) {
    const inMinute = trades.filter((t) => t.tick.eventTime >= start && t.tick.eventTime < start + MINUTE)
    const prices = inMinute.map((t) => t.price)
    const byValue = [...prices].sort((a, b) => Number(a) - Number(b))
    out.push(
      new Kline({
        type: "kline",
        market,
        interval: "1m",
        bucketStart: start,
        open: prices[0] ?? previous,
        high: byValue.at(-1) ?? previous,
        low: byValue[0] ?? previous,
        close: prices.at(-1) ?? previous,
        volume: inMinute.length === 0 ? "0" : sizeSum(inMinute),
        firstTradeId: inMinute[0]?.rawFirst ?? -1,
        lastTradeId: inMinute.at(-1)?.rawLast ?? -1,
        tradeCount: inMinute.reduce((n, t) => n + t.rawLast - t.rawFirst + 1, 0),
        receivedAt: start + MINUTE
      })
    )
    previous = prices.at(-1) ?? previous
  }
  return out
}

export interface RunOptions {
  /** Trades delivered past the allowed lateness (late for good). */
  readonly pastLateness: boolean
  /** Klines delayed up to this long after their minute's end. */
  readonly klineDelay: number
}

const marketRun = (market: Market, options: RunOptions) =>
  fc
    .record({
      rows: fc.array(tradeArb, { maxLength: 120 }),
      lose: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })), { nil: undefined }),
      delays: fc.array(fc.tuple(fc.nat({ max: lateness / 2 - 1 }), fc.integer({ min: 0, max: 12 })), {
        maxLength: 120
      }),
      klineDelays: fc.array(fc.nat({ max: options.klineDelay }), { maxLength: 200 }),
      gapCopies: fc.integer({ min: 1, max: 2 })
    })
    .map(({ rows, lose, delays, klineDelays, gapCopies }) => {
      const trades = venueTrades(market, rows)
      // A lost range strictly inside the run: there is a trade before it and one after it.
      let lost: Array<VenueTrade> = []
      const gaps: Array<Gap> = []
      if (lose !== undefined && trades.length >= 3) {
        const from = 1 + (lose[0] % (trades.length - 2))
        const to = Math.min(trades.length - 2, from + lose[1] - 1)
        lost = trades.slice(from, to + 1)
        gaps.push(
          new Gap({
            type: "gap",
            market,
            fromId: lost[0]!.tick.tradeId!,
            toId: lost.at(-1)!.tick.tradeId!,
            fromTime: trades[from - 1]!.tick.eventTime,
            toTime: trades[to + 1]!.tick.eventTime,
            reason: "not-served",
            detectedAt: trades[to + 1]!.tick.eventTime
          })
        )
      }
      const klines = venueKlines(market, trades)
      const keyed: Array<{ key: number; rec: Rec }> = []
      trades.forEach((t, i) => {
        if (lost.includes(t)) return
        const [delay, kind] = delays[i] ?? [0, 0]
        // kind 0: a duplicate; 1: past the lateness (when allowed); else delivered once with a bounded delay.
        const late = options.pastLateness && kind === 1 ? lateness + MINUTE + delay : delay
        keyed.push({ key: t.tick.eventTime + late, rec: { _tag: "tick", tick: t.tick } })
        if (kind === 0) keyed.push({ key: t.tick.eventTime + delay / 2, rec: { _tag: "tick", tick: t.tick } })
      })
      // A gap record right after the trade before it, as a source sends it (once, or repeated).
      for (const gap of gaps)
        for (let c = 0; c < gapCopies; c++) keyed.push({ key: gap.fromTime + 0.5, rec: { _tag: "gap", gap } })
      klines.forEach((k, i) => {
        keyed.push({ key: k.bucketStart + MINUTE + (klineDelays[i] ?? 0), rec: { _tag: "kline", kline: k } })
      })
      return { trades, lost, gaps, klines, keyed }
    })

/** Both markets' runs, delivered interleaved in key order. */
export const runArb = (options: RunOptions): fc.Arbitrary<Run> =>
  fc.tuple(...markets.map((m) => marketRun(m, options))).map((runs) => ({
    trades: runs.flatMap((r) => r.trades),
    lost: runs.flatMap((r) => r.lost),
    gaps: runs.flatMap((r) => r.gaps),
    klines: runs.flatMap((r) => r.klines),
    records: runs
      .flatMap((r) => r.keyed)
      .sort((a, b) => a.key - b.key)
      .map((k) => k.rec)
  }))
