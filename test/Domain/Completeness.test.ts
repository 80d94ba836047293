import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Schema } from "effect"
import type { Candle } from "../../src/Domain/Candle.js"
import { Gap } from "../../src/Domain/Gap.js"
import * as Operator from "../../src/Domain/Operator.js"
import { Tick } from "../../src/Domain/Tick.js"
import { candleDifferences, referenceCandles, referenceIntervals, referenceKey } from "../support/Reference.js"
import { lateness, markets, type Rec, type Run, runArb } from "./completenessInput.js"
import { runOperator } from "./completenessRun.js"

// Candle status (docs/completeness.md): final and gap candles never change again and equal the reference fold of the
// ticks the operator was right to accept; gaps mark the candles they touch.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 120 } }

const width = new Map(referenceIntervals)

/** The test's own verdicts: late behind the market's newest accepted time minus the lateness, else a repeated id. */
const classify = (records: ReadonlyArray<Rec>) => {
  const newest = new Map<string, number>()
  const ids = new Set<string>()
  const verdicts: Array<string> = []
  const accepted: Array<Tick> = []
  for (const rec of records) {
    if (rec._tag !== "tick") continue
    const t = rec.tick
    const max = newest.get(t.market!) ?? 0
    if (t.eventTime < max - lateness) verdicts.push("Late")
    else if (ids.has(`${t.market}|${t.tradeId}`)) verdicts.push("Duplicate")
    else {
      verdicts.push("Accepted")
      ids.add(`${t.market}|${t.tradeId}`)
      accepted.push(t)
      newest.set(t.market!, Math.max(max, t.eventTime))
    }
  }
  return { verdicts, accepted, watermark: (m: string) => (newest.get(m) ?? 0) - lateness }
}

const touches = (g: Gap, c: Candle) => c.bucketStart <= g.toTime && c.bucketStart + width.get(c.interval)! > g.fromTime

const arb = fc.tuple(
  runArb({ pastLateness: true, klineDelay: 4 * 60_000 }),
  fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
  fc.nat()
)

describe("candle status", () => {
  it.prop(
    "once final or gap a candle is never emitted again, and its values are the reference fold's",
    [arb],
    ([[run, sizes, cutAt]]: [[Run, Array<number>, number]]) => {
      const out = runOperator(run.records, sizes)
      const { verdicts, accepted, watermark } = classify(run.records)
      expect(out.verdicts).toEqual(verdicts)

      const finalAt = new Map<string, number>()
      const finals = new Map<string, Candle>()
      for (const [n, { batch, update }] of out.updates.entries()) {
        const { key, candle, closed } = update
        expect(finalAt.has(key), `${key} emitted after it was final`).toBe(false)
        expect(closed).toBe(candle.status !== "provisional")
        const refs = candle.gaps.map((g) => `${g.fromId}-${g.toId}`)
        expect(new Set(refs).size, `${key} lists a gap twice`).toBe(refs.length)
        for (const ref of candle.gaps) {
          const gap = run.gaps.find((g) => g.market === candle.market && g.fromId === ref.fromId && g.toId === ref.toId)
          expect(gap !== undefined && touches(gap, candle)).toBe(true)
        }
        if (!closed) continue
        finalAt.set(key, n)
        finals.set(key, candle)
        expect(candle.status).toBe(candle.gaps.length > 0 ? "gap" : "final")
        // Every gap delivered in an earlier batch that touches it is listed; none delivered after.
        for (const gap of run.gaps.filter((g) => g.market === candle.market && touches(g, candle))) {
          const at = out.gapBatch.get(`${gap.market}|${gap.fromId}`)!
          const listed = refs.includes(`${gap.fromId}-${gap.toId}`)
          if (at < batch) expect(listed, `${key} misses a gap delivered before it closed`).toBe(true)
          if (at > batch) expect(listed, `${key} lists a gap delivered after it closed`).toBe(false)
        }
      }

      // Exactly the buckets the watermark passed are final, with the reference's values and trade ids.
      const reference = new Map(
        [...referenceCandles(accepted)].filter(
          ([, c]) => c.bucketStart + width.get(c.interval)! <= watermark(c.market!)
        )
      )
      const stored = [...finals.values()].map((c) => ({ ...c }))
      expect(candleDifferences(stored, reference)).toEqual([])
      for (const c of stored) {
        const ref = reference.get(referenceKey(c.market, c.interval, c.bucketStart))!
        expect([c.firstTradeId, c.lastTradeId]).toEqual([ref.firstTradeId, ref.lastTradeId])
      }

      // A checkpoint and restart after any batch changes nothing.
      const cut = runOperator(run.records, sizes, cutAt % Math.max(1, out.updates.length + 1))
      expect(JSON.stringify(cut.updates)).toBe(JSON.stringify(out.updates))
      expect(JSON.stringify(cut.checks)).toBe(JSON.stringify(out.checks))
    },
    params
  )

  it.prop(
    "the state with gaps, klines and recent candles is its schema encoding, and decodes to the same",
    [arb],
    ([[run, sizes]]) => {
      const { state } = runOperator(run.records, sizes)
      const json = JSON.parse(Operator.encodeState(state))
      expect(json).toEqual(Schema.encodeSync(Operator.OperatorState)(state))
      const back = Effect.runSync(Operator.decodeState(json))
      expect(JSON.parse(Operator.encodeState(back))).toEqual(json)
    },
    params
  )
})

const market = markets[0]!
const t0 = Date.UTC(2025, 10, 1, 10)
const trade = (id: number, eventTime: number, price = 100) =>
  new Tick({
    symbol: "BTC",
    coinId: "BTCUSDT",
    price,
    volume: 1,
    eventTime,
    source: "binance",
    ingestTime: eventTime,
    market,
    tradeId: id,
    side: "buy"
  })

describe("gaps", () => {
  it("a gap arriving while candles are open marks them: listed once, status gap when they close", () => {
    const gap = new Gap({
      type: "gap",
      market,
      fromId: 3,
      toId: 4,
      fromTime: t0 + 10_000,
      toTime: t0 + 70_000,
      reason: "not-served",
      detectedAt: t0 + 70_000
    })
    const records: Array<Rec> = [
      { _tag: "tick", tick: trade(1, t0 + 1_000) },
      { _tag: "tick", tick: trade(2, t0 + 10_000) },
      { _tag: "gap", gap },
      { _tag: "gap", gap },
      { _tag: "tick", tick: trade(5, t0 + 70_000) },
      { _tag: "tick", tick: trade(6, t0 + 130_000) },
      { _tag: "tick", tick: trade(7, t0 + 400_000) }
    ]
    const out = runOperator(records, [0]) // batches of one record
    const updates = out.updates.map((e) => e.update)
    const at = (key: string) => updates.filter((u) => u.key === key)
    const first = at(`${market}|1m|${t0}`)
    // Emitted provisional, again with the gap when it came (the repeat changes nothing), then closed as gap.
    expect(first.map((u) => [u.candle.status, u.candle.gaps.length])).toEqual([
      ["provisional", 0],
      ["provisional", 0],
      ["provisional", 1],
      ["gap", 1]
    ])
    expect(first.at(-1)!.candle.gaps).toEqual([{ fromId: 3, toId: 4 }])
    expect(at(`${market}|1m|${t0 + 60_000}`).at(-1)!.candle.status).toBe("gap")
    // The minute after the gap's last trade is whole.
    expect(at(`${market}|1m|${t0 + 120_000}`).at(-1)!.candle.status).toBe("final")
    expect(out.state.markets[market]!.gaps.length).toBe(1) // the 5m, 15m, 1h and 1d candles it touches are open
  })

  it("old checkpoints (no completeness fields) load, with no ids, gaps or klines", () => {
    const { state } = runOperator([{ _tag: "tick", tick: trade(1, t0) }], [0])
    const json = JSON.parse(Operator.encodeState(state)) as { markets: Record<string, Record<string, unknown>> }
    const s = json.markets[market]!
    for (const field of ["gaps", "refs", "recent"]) delete s[field]
    for (const c of Object.values(s["open"] as Record<string, Record<string, unknown>>)) {
      delete c["firstTradeId"]
      delete c["lastTradeId"]
    }
    const back = Effect.runSync(Operator.decodeState(json))
    const m = back.markets[market]!
    expect([m.gaps, m.refs, m.recent]).toEqual([[], {}, []])
    expect(Object.values(m.open).map((c) => [c.firstTradeId, c.lastTradeId])[0]).toEqual([-1, -1])
  })
})
