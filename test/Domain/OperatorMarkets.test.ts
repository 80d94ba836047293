import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { foldCandles } from "../../src/Domain/Aggregate.js"
import type { Candle } from "../../src/Domain/Candle.js"
import { admitTrade } from "../../src/Domain/Dedupe.js"
import { intervals } from "../../src/Domain/Interval.js"
import type { Market } from "../../src/Domain/Market.js"
import * as Operator from "../../src/Domain/Operator.js"
import { Tick } from "../../src/Domain/Tick.js"

// The operator keyed by market (docs/markets.md, "The processor"): trades deduped by id, checkpoints from before.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 150 } }

const epoch = Date.UTC(2025, 10, 1)
const lateness = 120_000

const run = (state: Operator.OperatorState, ticks: ReadonlyArray<Tick>, out = new Map<string, Candle>()) => {
  const results = ticks.map((t) => Operator.step(state, t, lateness))
  for (const r of results) if (r._tag === "Accepted") for (const c of r.candles) out.set(c.key, c.candle)
  return { out, results }
}

const sameCandles = (a: Map<string, Candle>, b: Map<string, Candle>) => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort())
  for (const [key, x] of a) {
    const y = b.get(key)!
    expect([x.market, x.symbol, x.open, x.high, x.low, x.close, x.tickCount]).toEqual([
      y.market,
      y.symbol,
      y.open,
      y.high,
      y.low,
      y.close,
      y.tickCount
    ])
    expect(x.volume).toBeCloseTo(y.volume, 6)
    expect(Math.abs(x.vwap - y.vwap)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(y.vwap)))
  }
}

const markets: ReadonlyArray<Market> = [
  "binance:BTC-USDT" as Market,
  "coinbase:BTC-USD" as Market,
  "kraken:ETH-USD" as Market
]

const trade = (market: Market, tradeId: number, eventTime: number, price: number, size: number, check = true) =>
  new Tick(
    {
      symbol: market.slice(market.indexOf(":") + 1, market.indexOf("-")),
      coinId: "x",
      price,
      volume: size,
      eventTime,
      source: market.slice(0, market.indexOf(":")) as "binance",
      ingestTime: eventTime + 5,
      market,
      tradeId,
      side: tradeId % 2 === 0 ? "buy" : "sell"
    },
    !check
  )

/** Per market, trades in id order with holes (ids never delivered), several in one millisecond; then redelivered. */
const tradesArb = fc
  .array(
    fc.record({
      market: fc.constantFrom(...markets),
      skip: fc.constantFrom(0, 0, 0, 0, 1, 5), // ids jumped over: a hole
      dt: fc.constantFrom(0, 0, 0, 1, 7, 1_000, 30_000), // 0: the same millisecond as the trade before
      price: fc.double({ min: 1, max: 1e5, noNaN: true }),
      size: fc.double({ min: 1e-6, max: 10, noNaN: true })
    }),
    { maxLength: 200 }
  )
  .map((rows) => {
    const next: Record<string, { id: number; time: number }> = {}
    return rows.map(({ market, skip, dt, price, size }) => {
      const at = (next[market] ??= { id: 1_000_000, time: epoch })
      at.id += 1 + skip
      at.time += dt
      return trade(market, at.id, at.time, price, size)
    })
  })
  .chain((unique) =>
    fc
      .array(fc.tuple(fc.integer({ min: 0, max: lateness / 2 - 1 }), fc.integer({ min: 0, max: 3 })), {
        minLength: unique.length,
        maxLength: unique.length
      })
      .map((moves) => {
        const out = unique.flatMap((t, i) => {
          const [delay, copies] = moves[i]!
          return Array.from({ length: copies === 3 ? 2 : 1 }, (_, k) => ({ t, key: t.eventTime + delay + k }))
        })
        return { unique, delivered: out.sort((a, b) => a.key - b.key).map((x) => x.t) }
      })
  )

describe("Operator by market", () => {
  it.prop(
    "trades: each (market, trade id) counted once, several per millisecond, candles per market",
    [tradesArb],
    ([{ unique, delivered }]) => {
      const { out, results } = run(Operator.emptyState(), delivered)
      expect(results.filter((r) => r._tag === "Late")).toEqual([])
      expect(results.filter((r) => r._tag === "Accepted").length).toBe(unique.length)
      sameCandles(out, foldCandles(unique, intervals))
      for (const c of out.values()) expect(c.market.endsWith(`:${c.symbol}-${c.market.split("-")[1]}`)).toBe(true)
    },
    params
  )

  it.prop(
    "the id ranges agree with a set of ids, and stay sorted, disjoint and apart",
    [fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 200 })],
    ([ids]) => {
      const ranges: Array<number> = []
      const set = new Set<number>()
      for (const id of ids) {
        expect(admitTrade(ranges, id, id * 10)).toBe(!set.has(id))
        set.add(id)
      }
      for (let i = 0; i < ranges.length; i += 3) {
        const [lo, hi, max] = [ranges[i]!, ranges[i + 1]!, ranges[i + 2]!]
        expect(lo).toBeLessThanOrEqual(hi)
        expect(max).toBe(hi * 10) // the trade with the largest id is the latest here
        if (i > 0) expect(lo).toBeGreaterThan(ranges[i - 2]! + 1)
        for (let id = lo; id <= hi; id++) expect(set.has(id)).toBe(true)
      }
      const covered = ranges.reduce((n, _, i) => (i % 3 === 0 ? n + ranges[i + 1]! - ranges[i]! + 1 : n), 0)
      expect(covered).toBe(set.size)
    },
    params
  )

  it("a trade and a sample of one market at one millisecond are both accepted; a trade repeated is not", () => {
    const state = Operator.emptyState()
    const m = "coingecko:BTC-USD" as Market
    const sample = new Tick({
      symbol: "BTC",
      coinId: "bitcoin",
      price: 1,
      eventTime: epoch,
      source: "coingecko",
      ingestTime: epoch
    })
    expect(Operator.step(state, sample, lateness)._tag).toBe("Accepted")
    expect(Operator.step(state, trade(m, 7, epoch, 2, 1), lateness)._tag).toBe("Accepted")
    expect(Operator.step(state, trade(m, 8, epoch, 3, 1), lateness)._tag).toBe("Accepted")
    expect(Operator.step(state, trade(m, 7, epoch, 2, 1), lateness)._tag).toBe("Duplicate")
    expect(Operator.step(state, sample, lateness)._tag).toBe("Duplicate")
    expect(Object.keys(state.markets)).toEqual([m])
  })

  it("ranges behind the watermark are swept, so the set stays small at any rate", () => {
    const state = Operator.emptyState()
    const m = markets[0]!
    // 500 trades a second for 10 minutes, a hole every 1,000 ids; candles collected per 1,000 trades, as Consume does.
    const changes = Operator.emptyChanges()
    for (let i = 0; i < 300_000; i++) {
      Operator.accept(state, trade(m, i + Math.floor(i / 1000), epoch + i * 2, 1, 1, false), lateness, changes)
      if (i % 1000 === 999) Operator.collect(state, changes)
    }
    const ranges = state.markets[m]!.trades
    // The window (1.25 × lateness at most, between sweeps) holds 150 s × 500/s = 75 holes at most.
    expect(ranges.length / 3).toBeLessThanOrEqual(76)
    expect(ranges.length / 3).toBeGreaterThan(40)
  })
})

describe("a checkpoint written before markets", () => {
  // Written by the operator of commit 972b63f (test/fixtures/README.md): `checkpoint` after the first `cut` ticks.
  const fixture = JSON.parse(readFileSync("test/fixtures/checkpoint-before-markets.json", "utf8")) as {
    lateness: number
    cut: number
    checkpoint: string
    ticks: ReadonlyArray<ConstructorParameters<typeof Tick>[0]>
  }
  const ticks = fixture.ticks.map((t) => new Tick(t))

  it.effect("loads each symbol as its market, and goes on as if it had always been one", () =>
    Effect.gen(function* () {
      expect(fixture.lateness).toBe(lateness)
      const old = JSON.parse(fixture.checkpoint)
      expect(Object.keys(old.symbols).sort()).toEqual(["BTC", "ETH", "SOL"])
      const restored = yield* Operator.decodeState(old)
      // BTC and SOL came from the simulator; ETH from coingecko and replay, which is coingecko's market too.
      expect(Object.keys(restored.markets).sort()).toEqual([
        "coingecko:ETH-USD",
        "simulator:BTC-USD",
        "simulator:SOL-USD"
      ])
      for (const [market, s] of Object.entries(restored.markets))
        for (const key of Object.keys(s.open)) expect(key.startsWith(`${market}|`)).toBe(true)

      const straight = run(Operator.emptyState(), ticks)
      const before = run(Operator.emptyState(), ticks.slice(0, fixture.cut))
      const after = run(restored, ticks.slice(fixture.cut), before.out)
      expect([...before.results, ...after.results].map((r) => r._tag)).toEqual(straight.results.map((r) => r._tag))
      sameCandles(after.out, straight.out)
    })
  )

  it.effect("takes the market market_legacy names for a symbol", () =>
    Effect.gen(function* () {
      const legacy = new Map([["BTC", "coingecko:BTC-USD" as Market]])
      const restored = yield* Operator.decodeState(JSON.parse(fixture.checkpoint), legacy)
      expect(Object.keys(restored.markets).sort()).toEqual([
        "coingecko:BTC-USD",
        "coingecko:ETH-USD",
        "simulator:SOL-USD"
      ])
      const { out } = run(restored, [])
      expect(out.size).toBe(0)
      const btc = restored.markets["coingecko:BTC-USD"]!
      expect(Object.keys(btc.open).every((k) => k.startsWith("coingecko:BTC-USD|"))).toBe(true)
      // The state encodes in the new format and decodes back the same.
      const again = yield* Operator.decodeState(JSON.parse(Operator.encodeState(restored)))
      expect(Operator.encodeState(again)).toBe(Operator.encodeState(restored))
    })
  )
})
