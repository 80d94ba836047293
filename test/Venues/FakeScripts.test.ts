import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { WebSocket } from "ws"
import type { Market } from "../../src/Domain/Market.js"
import { readDecimal, type VenueTrade } from "../../src/Domain/Trade.js"
import { decodeBinanceFrame } from "../../src/Venues/Binance/Frames.js"
import { decodeAggTrades } from "../../src/Venues/Binance/Rest.js"
import { decodeCoinbaseFrame } from "../../src/Venues/Coinbase/Frames.js"
import { decodeTradesPage as decodeCoinbase } from "../../src/Venues/Coinbase/Rest.js"
import { decodeKrakenFrame } from "../../src/Venues/Kraken/Frames.js"
import { decodeTradesPage } from "../../src/Venues/Kraken/Rest.js"
import { type FakeTrade, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"

// Random scripts against the fake venue: what a plain client reads over the WebSocket, with the gaps filled from REST,
// is the fake's own trade list, once each; lost ranges are on neither. Frames are awaited by a sentinel, not a timer.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

type Step = { op: "send" | "gap" | "lose"; n: number } | { op: "duplicate"; n: number }
const step: fc.Arbitrary<Step> = fc.record({
  op: fc.constantFrom<Step["op"]>("send", "send", "gap", "lose", "duplicate"),
  n: fc.integer({ min: 1, max: 5 })
})

const setups: Record<FakeVenueName, { market: Market; path: string; subscribe?: string }> = {
  binance: { market: "binance:BTC-USDT" as Market, path: "/ws/btcusdt@aggTrade" },
  coinbase: {
    market: "coinbase:BTC-USD" as Market,
    path: "/",
    subscribe: JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channels: ["matches"] })
  },
  kraken: {
    market: "kraken:BTC-USD" as Market,
    path: "/",
    subscribe: JSON.stringify({
      method: "subscribe",
      params: { channel: "trade", symbol: ["BTC/USD"], snapshot: false }
    })
  }
}

const liveTrades = (venue: FakeVenueName, text: string): ReadonlyArray<VenueTrade> => {
  if (venue === "binance") {
    const f = decodeBinanceFrame(text)
    return f._tag === "AggTrade" ? [f.trade] : []
  }
  if (venue === "coinbase") {
    const f = decodeCoinbaseFrame(text)
    return f._tag === "Match" ? [f.trade] : []
  }
  const f = decodeKrakenFrame(text)
  return f._tag === "Trades" ? f.trades : []
}

/** The trades REST holds with ids in [from, to], read with the venue's page decoder. */
const fill = async (venue: FakeVenueName, restUrl: string, from: number, to: number, before: FakeTrade | undefined) => {
  if (venue === "binance") {
    const body: unknown = await (await fetch(`${restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=${from}`)).json()
    return Either.getOrThrow(decodeAggTrades("BTCUSDT", body)).filter((t) => t.tradeId <= to)
  }
  if (venue === "kraken") {
    const since = before === undefined ? 0n : BigInt(before.time) * 1_000_000n
    const body: unknown = await (await fetch(`${restUrl}/0/public/Trades?pair=XBTUSD&since=${since}`)).json()
    return Either.getOrThrow(decodeTradesPage("BTC/USD", body)).trades.filter((t) => t.tradeId <= to)
  }
  const res = await fetch(`${restUrl}/products/BTC-USD/trades?after=${to + 1}&limit=1000`)
  return Either.getOrThrow(decodeCoinbase("BTC-USD", await res.json(), res.headers)).trades.filter(
    (t) => t.tradeId >= from
  )
}

const run = async (venue: FakeVenueName, steps: ReadonlyArray<Step>) => {
  const { market, path, subscribe } = setups[venue]
  const fake = await startFakeVenue({ venue, markets: [market], spacingMs: venue === "kraken" ? 1 : 0 })
  try {
    const socket = new WebSocket(`${fake.wsUrl}${path}`)
    const frames: Array<string> = []
    const done = new Promise<void>((resolve) =>
      socket.on("message", (data) => (data.toString() === '"sentinel"' ? resolve() : frames.push(data.toString())))
    )
    await new Promise((resolve) => socket.once("open", resolve))
    if (subscribe !== undefined) socket.send(subscribe)
    await fake.subscribed()
    for (const s of steps) s.op === "duplicate" ? fake.duplicate(s.n) : fake[s.op](market, s.n)
    fake.raw('"sentinel"')
    await done
    socket.close()
    const seen = new Map<number, VenueTrade>()
    for (const t of frames.flatMap((text) => liveTrades(venue, text))) seen.set(t.tradeId, t)
    const truth = fake.trades(market)
    const ids = [...seen.keys()].sort((a, b) => a - b)
    const filled = new Set(ids)
    // Every hole between consecutive ids seen (and before the first) is asked of REST.
    const first = truth[0]?.tradeId ?? 0
    const last = truth.at(-1)?.tradeId ?? first
    let previous: FakeTrade | undefined
    for (let id = first; id <= last; id++) {
      if (filled.has(id)) {
        previous = truth.find((t) => t.tradeId === id)
        continue
      }
      let to = id
      while (to < last && !filled.has(to + 1)) to++
      for (const t of await fill(venue, fake.restUrl, id, to, previous)) {
        const made = truth.find((m) => m.tradeId === t.tradeId)
        expect([t.price.text, t.size.text, t.side, t.eventTime]).toEqual([
          made?.price,
          made?.size,
          made?.side,
          made?.time
        ])
        filled.add(t.tradeId)
      }
      id = to
    }
    expect([...filled].sort((a, b) => a - b)).toEqual(truth.map((t) => t.tradeId))
    for (const t of truth) {
      const live = seen.get(t.tradeId)
      if (live === undefined) continue
      const price = Either.getOrThrow(readDecimal(t.price))
      // Kraken's frames carry JSON numbers: the value survives, trailing zeros of the text do not.
      expect(venue === "kraken" ? live.price.value : live.price).toEqual(venue === "kraken" ? price.value : price)
      expect([live.side, live.eventTime]).toEqual([t.side, t.time])
    }
  } finally {
    await fake.close()
  }
}

describe("FakeVenue scripts", () => {
  for (const venue of ["binance", "coinbase", "kraken"] as const) {
    it(`${venue}: WebSocket plus REST fill is the fake's trade list, once each`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => run(venue, steps)),
        { seed, numRuns: 15 }
      )
    })
  }
})
