import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Schema } from "effect"
import { foldCandles } from "../../src/Domain/Aggregate.js"
import type { Candle } from "../../src/Domain/Candle.js"
import { intervals } from "../../src/Domain/Interval.js"
import * as Operator from "../../src/Domain/Operator.js"
import { Tick } from "../../src/Domain/Tick.js"

// PROPERTY_SEED=<n> replays a run; fast-check also prints its seed and path on failure.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 150 } }

const epoch = Date.UTC(2025, 10, 1)
const lateness = 120_000

/** An in-order feed of unique ticks per symbol (1–40 s apart), as a source produces them. */
const feedArb = fc
  .array(
    fc.record({
      symbol: fc.constantFrom("BTC", "ETH", "SOL"),
      gap: fc.integer({ min: 1, max: 40_000 }),
      price: fc.double({ min: 0.01, max: 1e5, noNaN: true }),
      volume: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined })
    }),
    { maxLength: 150 }
  )
  .map((rows) => {
    const clock: Record<string, number> = {}
    return rows.map(({ gap, volume, ...r }) => {
      const eventTime = (clock[r.symbol] = (clock[r.symbol] ?? epoch) + gap)
      return new Tick({
        ...r,
        ...(volume === undefined ? {} : { volume }),
        coinId: r.symbol.toLowerCase(),
        eventTime,
        source: "simulator",
        ingestTime: eventTime
      })
    })
  })

/** Delivery as the bus may do it: some ticks repeated, each moved by less than the allowed lateness. */
const deliveryArb = feedArb.chain((ticks) =>
  fc
    .tuple(
      fc.constant(ticks),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 3 })), {
        minLength: ticks.length,
        maxLength: ticks.length
      })
    )
    .map(([ticks, moves]) => {
      const out = ticks.flatMap((t, i) => {
        const [jitter, copies] = moves[i]!
        // Sort key: event time plus a bounded delay, so nothing is later than the watermark allows.
        return Array.from({ length: copies === 3 ? 2 : 1 }, () => ({ t, key: t.eventTime + (jitter % (lateness / 2)) }))
      })
      return { unique: ticks, delivered: out.sort((a, b) => a.key - b.key).map((x) => x.t) }
    })
)

/** Runs the operator over the ticks, returning the latest version of every candle it emitted. */
const run = (state: Operator.OperatorState, ticks: ReadonlyArray<Tick>, out = new Map<string, Candle>()) => {
  const results = ticks.map((t) => Operator.step(state, t, lateness))
  for (const r of results) if (r._tag === "Accepted") for (const c of r.candles) out.set(c.key, c.candle)
  return { out, results }
}

const sameCandles = (a: Map<string, Candle>, b: Map<string, Candle>) => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
  for (const [key, x] of a) {
    const y = b.get(key)!
    expect([x.open, x.high, x.low, x.close, x.tickCount]).toEqual([y.open, y.high, y.low, y.close, y.tickCount])
    expect(x.volume).toBeCloseTo(y.volume, 6)
    expect(Math.abs(x.vwap - y.vwap)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(y.vwap)))
  }
}

describe("Operator", () => {
  it.prop(
    "reordered and repeated delivery gives the reference candles, each tick counted once",
    [deliveryArb],
    ([{ delivered, unique }]) => {
      const { out, results } = run(Operator.emptyState(), delivered)
      expect(results.filter((r) => r._tag === "Late")).toEqual([])
      expect(results.filter((r) => r._tag === "Accepted").length).toBe(unique.length)
      expect(results.filter((r) => r._tag === "Duplicate").length).toBe(delivered.length - unique.length)
      sameCandles(out, foldCandles(unique, intervals))
    },
    params
  )

  it.effect.prop(
    "a checkpoint at any point (state through JSON) and a restart give the same result",
    [deliveryArb, fc.nat()],
    ([{ delivered }, cut]) =>
      Effect.gen(function* () {
        const k = delivered.length === 0 ? 0 : cut % (delivered.length + 1)
        const straight = run(Operator.emptyState(), delivered)

        const first = Operator.emptyState()
        const before = run(first, delivered.slice(0, k))
        const restored = yield* Operator.decodeState(JSON.parse(Operator.encodeState(first)))
        const after = run(restored, delivered.slice(k), before.out)
        expect([...before.results, ...after.results].map((r) => r._tag)).toEqual(straight.results.map((r) => r._tag))
        sameCandles(after.out, straight.out)
      }),
    params
  )

  it.effect.prop(
    "the checkpoint JSON is the schema's encoding, and a checkpoint in the format before still decodes",
    [deliveryArb, fc.nat()],
    ([{ delivered }, cut]) =>
      Effect.gen(function* () {
        const k = delivered.length === 0 ? 0 : cut % (delivered.length + 1)
        const state = Operator.emptyState()
        run(state, delivered.slice(0, k))
        const json = JSON.parse(Operator.encodeState(state))
        expect(json).toEqual(Schema.encodeSync(Operator.OperatorState)(state))

        // Before: the dedupe set as "source|eventTime" → eventTime. It decodes to the same state, which goes on the same.
        const legacy = structuredClone(json) as {
          markets: Record<string, { seen: Record<string, Array<number>> | Record<string, number> }>
        }
        for (const s of Object.values(legacy.markets)) {
          const keys: Record<string, number> = {}
          for (const [source, deltas] of Object.entries(s.seen as Record<string, Array<number>>)) {
            let time = 0
            for (const d of deltas) keys[`${source}|${(time += d)}`] = time
          }
          s.seen = keys
        }
        const fromLegacy = yield* Operator.decodeState(legacy)
        expect(JSON.parse(Operator.encodeState(fromLegacy))).toEqual(json)
        const rest = delivered.slice(k)
        const a = run(yield* Operator.decodeState(json), rest)
        const b = run(fromLegacy, rest)
        expect(b.results.map((r) => r._tag)).toEqual(a.results.map((r) => r._tag))
        sameCandles(b.out, a.out)
      }),
    params
  )

  it("rejects a tick behind the watermark as late, and keeps the state bounded", () => {
    const state = Operator.emptyState()
    const tick = (eventTime: number, price = 1) =>
      new Tick({ symbol: "BTC", coinId: "bitcoin", price, eventTime, source: "simulator", ingestTime: eventTime })
    expect(Operator.step(state, tick(epoch + 10 * 60_000), lateness)._tag).toBe("Accepted")
    expect(Operator.step(state, tick(epoch + 10 * 60_000 - lateness), lateness)._tag).toBe("Accepted") // exactly at the watermark
    const late = Operator.step(state, tick(epoch + 10 * 60_000 - lateness - 1), lateness)
    expect(late).toEqual({ _tag: "Late", watermark: epoch + 10 * 60_000 - lateness })
    expect(Operator.step(state, tick(epoch + 10 * 60_000), lateness)._tag).toBe("Duplicate")

    for (let i = 1; i <= 5_000; i++) Operator.step(state, tick(epoch + 10 * 60_000 + i * 1000, 1 + i / 1000), lateness)
    const btc = state.markets["simulator:BTC-USD"]!
    // Only ticks inside the lateness stay in the dedupe set; only unclosed buckets stay open.
    expect([...btc.seen.values()].reduce((n, times) => n + times.size, 0)).toBeLessThanOrEqual(
      (1.25 * lateness) / 1000 + 1
    )
    expect(Object.keys(btc.open).filter((k) => k.includes("|1m|")).length).toBeLessThanOrEqual(3)
    expect(btc.indicators["1m"].count).toBeGreaterThan(80)
  })

  it("an open candle's indicators do not change when it closes", () => {
    const state = Operator.emptyState()
    const emitted = new Map<string, Operator.CandleUpdate>()
    for (let i = 0; i < 3000; i++) {
      const eventTime = epoch + i * 15_000
      const r = Operator.step(
        state,
        new Tick({
          symbol: "ETH",
          coinId: "ethereum",
          price: 100 + Math.sin(i / 7) * 5,
          eventTime,
          source: "simulator",
          ingestTime: eventTime
        }),
        lateness
      )
      if (r._tag !== "Accepted") throw new Error(`unexpected ${r._tag}`)
      for (const c of r.candles) {
        const previous = emitted.get(c.key)
        if (c.closed && previous !== undefined) expect(c.indicators).toEqual(previous.indicators)
        emitted.set(c.key, c)
      }
    }
    const closed = [...emitted.values()].filter((c) => c.closed && c.candle.interval === "1m")
    expect(closed.length).toBeGreaterThan(600)
    expect(closed.at(-1)!.indicators.rsi14).not.toBeNull()
  })
})
