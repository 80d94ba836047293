import { afterEach, describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { readDecimal, type VenueTrade } from "../../src/Domain/Trade.js"
import { decodeAggTrades } from "../../src/Venues/Binance/Rest.js"
import { decodeTradesPage as decodeCoinbase } from "../../src/Venues/Coinbase/Rest.js"
import { decodeTradesPage as decodeKraken } from "../../src/Venues/Kraken/Rest.js"
import { type FakeTrade, type FakeVenue, startFakeVenue } from "../support/FakeVenue.js"

// The REST pages a gap is filled from, read back into the very trades the fake venue made.

let venues: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(venues.map((v) => v.close()))
  venues = []
})
const gapped = async (venue: "binance" | "coinbase" | "kraken", market: string) => {
  const fake = await startFakeVenue({ venue, markets: [market as Market] })
  venues.push(fake)
  fake.gap(market as Market, 5)
  return fake
}
const decimal = (text: string) => Either.getOrThrow(readDecimal(text))
const expected = (t: FakeTrade, symbol = t.symbol): VenueTrade => ({
  symbol,
  tradeId: t.tradeId,
  price: decimal(t.price),
  size: decimal(t.size),
  side: t.side,
  eventTime: t.time
})

describe("REST trade pages", () => {
  it("binance aggTrades", async () => {
    const fake = await gapped("binance", "binance:BTC-USDT")
    const body: unknown = await (await fetch(`${fake.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=1001`)).json()
    const trades = Either.getOrThrow(decodeAggTrades("BTCUSDT", body))
    expect(trades).toEqual(
      fake
        .trades("binance:BTC-USDT" as Market)
        .slice(1)
        .map((t) => ({ ...expected(t), firstTradeId: t.firstRawId, lastTradeId: t.lastRawId }))
    )
    expect(decodeAggTrades("BTCUSDT", [{ a: 1, p: "-1", q: "1", f: 1, l: 1, T: 1, m: true }])).toEqual(
      Either.left(expect.stringMatching(/^aggTrades: 0\.p: /))
    )
    expect(Either.isLeft(decodeAggTrades("BTCUSDT", { code: -1121, msg: "Invalid symbol." }))).toBe(true)
  })

  it("coinbase trades, newest first, with the cursors", async () => {
    const fake = await gapped("coinbase", "coinbase:BTC-USD")
    const res = await fetch(`${fake.restUrl}/products/BTC-USD/trades?after=1004&limit=2`)
    const page = Either.getOrThrow(decodeCoinbase("BTC-USD", await res.json(), res.headers))
    const all = fake.trades("coinbase:BTC-USD" as Market)
    expect(page.trades).toEqual([all[3], all[2]].map((t) => expected(t as FakeTrade)))
    expect([page.before, page.after]).toEqual(["1003", "1002"])
    const bad = decodeCoinbase(
      "BTC-USD",
      [{ time: "now", trade_id: 1, price: "1", size: "1", side: "buy" }],
      res.headers
    )
    expect(bad).toEqual(Either.left(expect.stringMatching(/0\.time: expected a UTC time/)))
  })

  it("kraken Trades, XXBTZUSD rows, the last cursor, and a rate limit told apart", async () => {
    const fake = await gapped("kraken", "kraken:BTC-USD")
    const body: unknown = await (await fetch(`${fake.restUrl}/0/public/Trades?pair=XBTUSD&since=0`)).json()
    const page = Either.getOrThrow(decodeKraken("BTC/USD", body))
    expect(page.trades).toEqual(fake.trades("kraken:BTC-USD" as Market).map((t) => expected(t)))
    expect(page.last).toBe(String(BigInt(fake.trades("kraken:BTC-USD" as Market)[4]?.time ?? 0) * 1_000_000n))
    expect(decodeKraken("BTC/USD", { error: ["EAPI:Rate limit exceeded"] })).toEqual(
      Either.left({ message: "EAPI:Rate limit exceeded", rateLimited: true })
    )
    expect(decodeKraken("BTC/USD", { error: ["EQuery:Unknown asset pair"] })).toEqual(
      Either.left({ message: "EQuery:Unknown asset pair", rateLimited: false })
    )
    const row = ["0.1", "", 1, "b", "l", "", 7]
    expect(decodeKraken("BTC/USD", { error: [], result: { XXBTZUSD: [row], last: "1" } })).toEqual(
      Either.left({ message: expect.stringMatching(/^Trades XXBTZUSD: 0\.1: .*empty/), rateLimited: false })
    )
  })
})
