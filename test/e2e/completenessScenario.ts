import type { Market } from "../../src/Domain/Market.js"
import { mulberry32 } from "../../support/random.mjs"
import { sleep } from "../../support/waiting.mjs"
import type { FakeKline, FakeTrade, FakeVenue } from "../support/FakeVenue.js"

/**
 * Issue 16's "Done when" against one fake Binance: three markets through a seeded random schedule of trades,
 * disconnects, fillable gaps and duplicates; `clean` has nothing else, `gapped` gets one range of ids no one has, and
 * `tampered` one kline sent wrong and one that counts a trade nobody serves. What the fake made is the truth: the
 * result each of its klines must get, once our candle of that minute is final.
 */

export const startTime = Date.UTC(2024, 0, 1)
export const minute = 60_000
export const lateness = 10_000
export const clean = "binance:BTC-USDT" as Market
export const gapped = "binance:ETH-USDT" as Market
export const tampered = "binance:SOL-USDT" as Market
export const markets: ReadonlyArray<Market> = [clean, gapped, tampered]

type Step =
  | { readonly op: "send" | "gap"; readonly market: Market; readonly n: number }
  | { readonly op: "lose"; readonly market: Market; readonly n: number }
  | { readonly op: "corrupt" | "phantom"; readonly market: Market }
  | { readonly op: "disconnect" | "duplicate"; readonly n: number }

const pick = <A>(rng: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(rng() * xs.length)] as A

/** `count` random steps from `seed` (trades, fillable gaps, disconnects, duplicates), the sure troubles halfway. */
export const schedule = (seed: number, count: number): ReadonlyArray<Step> => {
  const rng = mulberry32(seed)
  const ops = ["send", "send", "send", "send", "gap", "disconnect", "duplicate"] as const
  const random = Array.from({ length: count }, (): Step => {
    const op = pick(rng, ops)
    if (op === "disconnect" || op === "duplicate") return { op, n: 1 + Math.floor(rng() * 3) }
    return { op, market: pick(rng, markets), n: 1 + Math.floor(rng() * 15) }
  })
  // The minute of `tampered`'s latest trade gets its kline corrupted; a later one a phantom trade.
  const sure: ReadonlyArray<Step> = [
    { op: "send", market: gapped, n: 3 },
    { op: "lose", market: gapped, n: 2 },
    { op: "send", market: gapped, n: 3 },
    { op: "send", market: tampered, n: 2 },
    { op: "corrupt", market: tampered },
    { op: "send", market: tampered, n: 40 },
    { op: "phantom", market: tampered },
    { op: "send", market: tampered, n: 5 },
    { op: "disconnect", n: 1 },
    { op: "send", market: tampered, n: 40 }
  ]
  const half = Math.floor(random.length / 2)
  return [...random.slice(0, half), ...sure, ...random.slice(half)]
}

export const describeSchedule = (steps: ReadonlyArray<Step>): string => {
  const counts = new Map<string, number>()
  for (const s of steps) counts.set(s.op, (counts.get(s.op) ?? 0) + 1)
  return [...counts].map(([op, n]) => `${n} ${op}`).join(", ")
}

const minuteOf = (time: number) => time - (time % minute)
const lastMinute = (fake: FakeVenue, market: Market) => minuteOf(fake.trades(market).at(-1)?.time ?? startTime)

/**
 * Plays the steps (a short pause after each lets frames flow; nothing is asserted on time). A disconnect makes `n`
 * trades of each market while no one listens (filled from REST after the reconnect), then waits for the client to be
 * back: the venue's time stands still meanwhile, so an outage costs seconds of trades, not minutes (klines that
 * come minutes after our candle closed are past the operator's window of recent candles, as a long outage would be).
 */
export const play = async (fake: FakeVenue, steps: ReadonlyArray<Step>) => {
  for (const s of steps) {
    if (s.op === "send") fake.send(s.market, s.n)
    else if (s.op === "gap") {
      // Revealed by the next trade at once, as live traffic would: a market's klines come after the trade that shows
      // its gap, so a gap left open over many minutes would hold them back past the operator's window.
      fake.gap(s.market, s.n)
      fake.send(s.market, 1)
    } else if (s.op === "lose") fake.lose(s.market, s.n)
    else if (s.op === "corrupt") fake.corruptKline(s.market, lastMinute(fake, s.market), "high")
    else if (s.op === "phantom") fake.phantomTrade(s.market, lastMinute(fake, s.market))
    else if (s.op === "duplicate") fake.duplicate(s.n)
    else {
      fake.disconnect()
      for (const m of markets) fake.send(m, "n" in s ? s.n : 1)
      await sleep(50)
      await fake.subscribed(1)
    }
    await sleep(20)
  }
}

/** The minutes an unfilled gap of `market` touches: those of the trades either side of its ids, and any between. */
export const gapMinutes = (trades: ReadonlyArray<FakeTrade>): ReadonlySet<number> => {
  const out = new Set<number>()
  for (let i = 1; i < trades.length; i++) {
    const before = trades[i - 1] as FakeTrade
    const after = trades[i] as FakeTrade
    if (after.tradeId === before.tradeId + 1) continue
    for (let m = minuteOf(before.time); m <= after.time; m += minute) out.add(m)
  }
  return out
}

export interface Expected {
  readonly bucketStart: number
  readonly result: "match" | "mismatch" | "gap"
  readonly mismatched: ReadonlyArray<string>
}

/**
 * The check each of the market's klines must get, for the minutes our candle has closed (the market's last trade is
 * past the minute's end plus the lateness): `gap` where an unfilled gap touches a minute we traded in, `mismatch`
 * with the tampered fields (a phantom: its volume and last id), else `match` (a minute of no trades too).
 */
export const expectedChecks = (fake: FakeVenue, market: Market): ReadonlyArray<Expected> => {
  const trades = fake.trades(market)
  const last = trades.at(-1)?.time ?? 0
  const gaps = gapMinutes(trades)
  return fake
    .klines(market)
    .filter((k) => k.bucketStart + minute + lateness <= last)
    .map((k: FakeKline): Expected => {
      if (gaps.has(k.bucketStart) && k.tradeCount > 0)
        return { bucketStart: k.bucketStart, result: "gap", mismatched: [] }
      const mismatched = k.phantom ? ["volume", "lastTradeId"] : k.corrupted === undefined ? [] : [k.corrupted]
      return { bucketStart: k.bucketStart, result: mismatched.length > 0 ? "mismatch" : "match", mismatched }
    })
}
