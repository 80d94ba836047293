import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { check } from "../../src/Domain/Check.js"
import { Gap } from "../../src/Domain/Gap.js"
import { Kline } from "../../src/Domain/Kline.js"
import { Tick } from "../../src/Domain/Tick.js"
import { lateness, MINUTE, markets, type Rec, type Run, runArb } from "./completenessInput.js"
import { runOperator } from "./completenessRun.js"

// The check of our final 1m candles against the venue's (docs/completeness.md): klines computed here from the venue's
// trades all match, unless a gap touches the minute; a kline changed in one field, or counting a trade we never saw,
// is a mismatch naming it.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 120 } }

const fields = ["open", "high", "low", "close", "volume", "firstTradeId", "lastTradeId"] as const
type Field = (typeof fields)[number]

const touched = (run: Run, k: Kline) =>
  run.gaps.some((g) => g.market === k.market && k.bucketStart <= g.toTime && k.bucketStart + MINUTE > g.fromTime)

/** Each market's newest trade time delivered, minus the lateness: the klines before it must have been checked. */
const watermarks = (run: Run) => {
  const newest = new Map<string, number>()
  for (const r of run.records)
    if (r._tag === "tick") newest.set(r.tick.market!, Math.max(newest.get(r.tick.market!) ?? 0, r.tick.eventTime))
  return (m: string) => (newest.get(m) ?? 0) - lateness
}

const withKline = (run: Run, target: Kline, changed: Kline): ReadonlyArray<Rec> =>
  run.records.map((r) => (r._tag === "kline" && r.kline === target ? { _tag: "kline", kline: changed } : r))

const perturbed = (k: Kline, field: Field): Kline => {
  const value = field === "firstTradeId" || field === "lastTradeId" ? k[field] + 1 : String(Number(k[field]) + 1)
  return new Kline({ ...k, [field]: value })
}

const arb = fc.tuple(
  runArb({ pastLateness: false, klineDelay: 4 * MINUTE }),
  fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
  fc.nat(),
  fc.constantFrom(...fields)
)

describe("checks against the venue's klines", () => {
  it.prop(
    "every kline the watermark passed is checked once: match, or gap where a gap touches the minute",
    [arb],
    ([[run, sizes]]) => {
      const out = runOperator(run.records, sizes)
      const watermark = watermarks(run)
      const due = run.klines.filter((k) => k.bucketStart + MINUTE <= watermark(k.market))
      const key = (m: string, start: number) => `${m}|${start}`
      expect(out.checks.map((c) => key(c.market, c.bucketStart)).sort()).toEqual(
        due.map((k) => key(k.market, k.bucketStart)).sort()
      )
      for (const c of out.checks) {
        const k = due.find((x) => x.market === c.market && x.bucketStart === c.bucketStart)!
        expect([c.result, c.mismatched], JSON.stringify(c)).toEqual([touched(run, k) ? "gap" : "match", []])
        expect(c.theirs).toEqual(k)
      }
    },
    params
  )

  it.prop(
    "one field of one kline changed, or a trade counted that we never saw: a mismatch naming it",
    [arb],
    ([[run, sizes, pick, field]]) => {
      const watermark = watermarks(run)
      const candidates = run.klines.filter(
        (k) => k.tradeCount > 0 && !touched(run, k) && k.bucketStart + MINUTE <= watermark(k.market)
      )
      fc.pre(candidates.length > 0)
      const target = candidates[pick % candidates.length]!
      const find = (records: ReadonlyArray<Rec>) =>
        runOperator(records, sizes).checks.filter(
          (c) => c.market === target.market && c.bucketStart === target.bucketStart
        )
      expect(find(withKline(run, target, perturbed(target, field))).map((c) => [c.result, c.mismatched])).toEqual([
        ["mismatch", [field]]
      ])
      // A phantom trade: the venue counts one more raw trade at the end of the minute, with a size of its own.
      const phantom = new Kline({
        ...target,
        lastTradeId: target.lastTradeId + 1,
        tradeCount: target.tradeCount + 1,
        volume: String(Number(target.volume) + 0.5)
      })
      expect(find(withKline(run, target, phantom)).map((c) => [c.result, c.mismatched])).toEqual([
        ["mismatch", ["volume", "lastTradeId"]]
      ])
    },
    params
  )
})

const kline = (over: Partial<Kline> = {}) =>
  new Kline({
    type: "kline",
    market: markets[0]!,
    interval: "1m",
    bucketStart: Date.UTC(2025, 10, 1),
    open: "100.5",
    high: "101",
    low: "99.25",
    close: "100",
    volume: "12.5",
    firstTradeId: 10,
    lastTradeId: 19,
    tradeCount: 10,
    receivedAt: Date.UTC(2025, 10, 1, 0, 1),
    ...over
  })
const ours = {
  open: 100.5,
  high: 101,
  low: 99.25,
  close: 100,
  volume: 12.5,
  tickCount: 4,
  firstTradeId: 10,
  lastTradeId: 19
}

describe("check", () => {
  it("compares prices exactly, volume to a relative 1e-9, and the first and last trade ids", () => {
    expect(check(ours, [], kline(), 7).result).toBe("match")
    expect(check({ ...ours, volume: 12.5 * (1 + 0.9e-9) }, [], kline(), 7).result).toBe("match")
    expect(check({ ...ours, volume: 12.5 * (1 + 1.1e-9) }, [], kline(), 7).mismatched).toEqual(["volume"])
    // Small volumes: 1e-9 absolute.
    expect(check({ ...ours, volume: 0.0000000009 }, [], kline({ volume: "0" }), 7).result).toBe("match")
    expect(check({ ...ours, open: 100.50000000001, lastTradeId: 18 }, [], kline(), 7).mismatched).toEqual([
      "open",
      "lastTradeId"
    ])
    const row = check(ours, [], kline(), 7)
    expect([row.market, row.interval, row.bucketStart, row.checkedAt, row.ours]).toEqual([
      markets[0],
      "1m",
      Date.UTC(2025, 10, 1),
      7,
      ours
    ])
  })

  it("a gap touching the minute is not compared; no candle is missing unless the minute had no trade", () => {
    const gaps = [{ fromId: 3, toId: 4 }]
    expect(check({ ...ours, open: 1 }, gaps, kline(), 7)).toMatchObject({ result: "gap", mismatched: [], gaps })
    expect(check(null, gaps, kline(), 7).result).toBe("gap")
    expect(check(null, [], kline(), 7)).toMatchObject({ result: "missing", ours: null })
    expect(check(null, [], kline({ tradeCount: 0, firstTradeId: -1, lastTradeId: -1 }), 7).result).toBe("match")
  })
})

describe("the operator's checks", () => {
  const market = markets[0]!
  const t0 = Date.UTC(2025, 10, 1, 10)
  const tick = (id: number, eventTime: number): Rec => ({
    _tag: "tick",
    tick: new Tick({
      symbol: "BTC",
      coinId: "BTCUSDT",
      price: 100,
      volume: 1,
      eventTime,
      source: "binance",
      ingestTime: eventTime,
      market,
      tradeId: id,
      side: "buy"
    })
  })
  const theirs = (start: number, over: Partial<Kline> = {}): Rec => ({
    _tag: "kline",
    kline: kline({
      market,
      bucketStart: start,
      open: "100",
      high: "100",
      low: "100",
      close: "100",
      volume: "1",
      ...over
    })
  })
  const results = (records: ReadonlyArray<Rec>) =>
    runOperator(records, [0]).checks.map((c) => [(c.bucketStart - t0) / MINUTE, c.result])

  it("no candle of ours for a kline's minute: missing (match when it had no trade), whenever the kline comes", () => {
    const ids = { firstTradeId: 1, lastTradeId: 1, tradeCount: 1 }
    const empty = { firstTradeId: -1, lastTradeId: -1, tradeCount: 0, volume: "0" }
    expect(
      results([
        tick(1, t0 + 1_000),
        theirs(t0, ids), // waits for our candle: it closes, matches
        theirs(t0 + MINUTE, ids), // waits; the watermark passes the minute with no candle
        theirs(t0 + 2 * MINUTE, empty), // likewise, a minute with no trade
        tick(2, t0 + 7 * MINUTE),
        theirs(t0 + 3 * MINUTE, ids), // comes after the watermark passed it, no candle
        theirs(t0 + 3 * MINUTE + MINUTE, empty)
      ])
    ).toEqual([
      [0, "match"],
      [1, "missing"],
      [2, "match"],
      [3, "missing"],
      [4, "match"]
    ])
  })

  it("a kline after our candle closed is checked against it (the last 5), with a gap that came meanwhile", () => {
    const gap = new Gap({
      type: "gap",
      market,
      fromId: 7,
      toId: 7,
      fromTime: t0 + 7 * MINUTE,
      toTime: t0 + 7 * MINUTE + 2,
      reason: "not-served",
      detectedAt: t0
    })
    const records: Array<Rec> = []
    for (let m = 0; m < 10; m++) records.push(tick(m + 1, t0 + m * MINUTE + 1))
    records.push(tick(20, t0 + 12 * MINUTE)) // the watermark passes minute 9
    records.push({ _tag: "gap", gap }) // after minute 7 closed
    for (let m = 0; m < 10; m++) records.push(theirs(t0 + m * MINUTE, { firstTradeId: m + 1, lastTradeId: m + 1 }))
    expect(results(records)).toEqual([
      ...[0, 1, 2, 3, 4].map((m) => [m, "missing"]), // older than the last 5 of ours
      [5, "match"],
      [6, "match"],
      [7, "gap"],
      [8, "match"],
      [9, "match"]
    ])
  })
})
