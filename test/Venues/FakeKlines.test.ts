import { afterEach, describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { type FakeKline, type FakeTrade, type FakeVenue, startFakeVenue } from "../support/FakeVenue.js"

// The fake venue's klines against a fold of our own over its trade list: per minute of trade time, o/h/l/c the prices'
// text, v the exact sum of the sizes, f/L the first and last raw id, n the raw trades, a minute of none priced at the
// previous close. Corrupted and phantom klines differ from the fold exactly where they say.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const btc = "binance:BTC-USDT" as Market
const minute = 60_000

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})
const start = async (spacingMs: number) => {
  const fake = await startFakeVenue({ venue: "binance", markets: [btc], spacingMs })
  fakes.push(fake)
  return fake
}

/** Sizes in millionths, summed as integers: exact, whatever the float sum would say. */
const micros = (size: string) => {
  const [whole = "0", fraction = ""] = size.split(".")
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, "0").slice(0, 6))
}
const fromMicros = (n: number) => `${Math.floor(n / 1_000_000)}.${String(n % 1_000_000).padStart(6, "0")}`

type Plain = Omit<FakeKline, "corrupted" | "phantom" | "quoteVolume">

/** The reference fold, written from research/venues.md's description of a kline, not from the fake's code. */
const fold = (market: Market, trades: ReadonlyArray<FakeTrade>): Array<Plain> => {
  const out: Array<Plain> = []
  const first = trades[0]
  const last = trades.at(-1)
  if (first === undefined || last === undefined) return out
  let close = first.price
  for (let t = Math.floor(first.time / minute) * minute; t + minute <= last.time - (last.time % minute); t += minute) {
    const inside = trades.filter((x) => x.time >= t && x.time < t + minute)
    const prices = inside.map((x) => x.price)
    const byValue = [...prices].sort((a, b) => Number(a) - Number(b))
    out.push({
      market,
      bucketStart: t,
      open: prices[0] ?? close,
      high: byValue.at(-1) ?? close,
      low: byValue[0] ?? close,
      close: prices.at(-1) ?? close,
      volume: fromMicros(inside.reduce((n, x) => n + micros(x.size), 0)),
      firstTradeId: inside[0]?.firstRawId ?? -1,
      lastTradeId: inside.at(-1)?.lastRawId ?? -1,
      tradeCount: inside.reduce((n, x) => n + x.lastRawId - x.firstRawId + 1, 0)
    })
    close = prices.at(-1) ?? close
  }
  return out
}
const plain = ({ corrupted: _c, phantom: _p, quoteVolume: _q, ...k }: FakeKline): Plain => k

type Step = { readonly op: "send" | "gap" | "lose"; readonly n: number }
const stepArb: fc.Arbitrary<Step> = fc.record({
  op: fc.constantFrom<Step["op"]>("send", "send", "gap", "lose"),
  n: fc.integer({ min: 1, max: 12 })
})

describe("FakeVenue klines", () => {
  it("are the fold over the fake's own trades; raw ids consecutive, 1 to 3 an aggTrade", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1000, 7000, 25_000, 130_000),
        fc.array(stepArb, { minLength: 1, maxLength: 20 }),
        async (spacing, steps) => {
          const fake = await start(spacing)
          for (const s of steps) fake[s.op](btc, s.n)
          const trades = fake.trades(btc)
          expect(fake.klines(btc).map(plain)).toEqual(fold(btc, trades))
          for (const [i, t] of trades.entries()) {
            expect(t.lastRawId - t.firstRawId).toBeGreaterThanOrEqual(0)
            expect(t.lastRawId - t.firstRawId).toBeLessThanOrEqual(2)
            if (i > 0) expect(t.firstRawId).toBe((trades[i - 1] as FakeTrade).lastRawId + 1)
          }
          expect(fake.klines(btc).every((k) => k.corrupted === undefined && !k.phantom)).toBe(true)
        }
      ),
      { seed, numRuns: 40 }
    )
  })

  it("a corrupted kline differs in its field only; a phantom counts one more trade that no one serves", async () => {
    const fake = await start(10_000)
    const t0 = Date.UTC(2024, 0, 1)
    fake.corruptKline(btc, t0, "high")
    fake.corruptKline(btc, t0 + minute, "lastTradeId")
    fake.phantomTrade(btc, t0 + 2 * minute)
    fake.send(btc, 30)
    const trades = fake.trades(btc)
    const [k0, k1, k2, k3] = fake.klines(btc)
    const [r0, r1, r2, r3] = fold(btc, trades)
    expect(k0 && { ...plain(k0), high: r0?.high }).toEqual(r0)
    expect([k0?.corrupted, Number(k0?.high) > Number(r0?.high)]).toEqual(["high", true])
    expect(k1 && { ...plain(k1), lastTradeId: r1?.lastTradeId }).toEqual(r1)
    expect([k1?.corrupted, k1?.lastTradeId]).toEqual(["lastTradeId", (r1?.lastTradeId ?? 0) + 1])
    // The phantom is the minute's last raw trade: one more id, its size on the volume; the next aggTrade goes on after.
    const phantomId = (r2?.lastTradeId ?? 0) + 1
    expect(k2?.phantom).toBe(true)
    expect(k2 && [k2.lastTradeId, k2.tradeCount, micros(k2.volume) - micros(r2?.volume ?? "0")]).toEqual([
      phantomId,
      (r2?.tradeCount ?? 0) + 1,
      500_001
    ])
    expect([k2?.open, k2?.high, k2?.low, k2?.close, k2?.firstTradeId]).toEqual([
      r2?.open,
      r2?.high,
      r2?.low,
      r2?.close,
      r2?.firstTradeId
    ])
    expect(trades.find((t) => t.time >= t0 + 3 * minute)?.firstRawId).toBe(phantomId + 1)
    expect(trades.map((t) => t.tradeId)).toEqual(Array.from({ length: 30 }, (_, i) => 1000 + i))
    expect(k3 && plain(k3)).toEqual(r3)
    expect(() => fake.phantomTrade(btc, t0)).toThrow(/is over/)
  })
})
