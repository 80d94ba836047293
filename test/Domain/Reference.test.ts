import { describe, expect, it } from "@effect/vitest"
import { candleDifferences, referenceCandles, referenceKey } from "../support/Reference.js"

// The tests' reference fold (test/support/Reference.ts), checked by hand: it is what every exactly-once check trusts.
describe("the reference candles", () => {
  const t0 = Date.UTC(2026, 0, 1, 23, 59, 0)
  const ticks = [
    { symbol: "BTC", eventTime: t0 + 30_000, price: 12, volume: 1 },
    { symbol: "BTC", eventTime: t0, price: 10, volume: 3 },
    { symbol: "BTC", eventTime: t0 + 59_999, price: 8 },
    { symbol: "BTC", eventTime: t0 + 60_000, price: 20, volume: 2 } // the next day, in every interval
  ]

  it("computes each field from its definition", () => {
    const candles = referenceCandles(ticks)
    expect(candles.get(referenceKey("BTC", "1m", t0))).toEqual({
      symbol: "BTC",
      interval: "1m",
      bucketStart: t0,
      open: 10,
      high: 12,
      low: 8,
      close: 8,
      volume: 4,
      tickCount: 3,
      vwap: (10 * 3 + 12 * 1) / 4
    })
    const day = Date.UTC(2026, 0, 1)
    expect(candles.get(referenceKey("BTC", "1d", day))?.tickCount).toBe(3)
    expect(candles.get(referenceKey("BTC", "1d", day + 86_400_000))?.open).toBe(20)
    expect(candles.size).toBe(10)
  })

  it("finds a tick counted twice, a tick lost and a candle missing", () => {
    const reference = referenceCandles(ticks)
    const stored = [...reference.values()]
    expect(candleDifferences(stored, reference)).toEqual([])
    const doubled = [...referenceCandles([...ticks, ticks[0]!]).values()]
    expect(candleDifferences(doubled, reference).some((p) => p.includes("tickCount 4, reference 3"))).toBe(true)
    const lost = [...referenceCandles(ticks.slice(1)).values()]
    expect(candleDifferences(lost, reference).length).toBeGreaterThan(0)
    expect(candleDifferences(stored.slice(1), reference)).toEqual([`BTC 1m ${new Date(t0).toISOString()}: missing`])
  })

  it("spans the raw trade ids of a candle's trades, and judges them only where both sides have them", () => {
    const trades = [
      {
        symbol: "BTC",
        market: "binance:BTC-USDT",
        eventTime: t0 + 5,
        price: 10,
        tradeId: 7,
        firstTradeId: 20,
        lastTradeId: 22
      },
      {
        symbol: "BTC",
        market: "binance:BTC-USDT",
        eventTime: t0 + 1,
        price: 11,
        tradeId: 6,
        firstTradeId: 18,
        lastTradeId: 19
      },
      { symbol: "BTC", market: "coinbase:BTC-USD", eventTime: t0, price: 11, tradeId: 40 }
    ]
    const reference = referenceCandles(trades, [["1m", 60_000]])
    const binance = reference.get(referenceKey("binance:BTC-USDT", "1m", t0))!
    expect([binance.firstTradeId, binance.lastTradeId]).toEqual([18, 22])
    const coinbase = reference.get(referenceKey("coinbase:BTC-USD", "1m", t0))!
    expect([coinbase.firstTradeId, coinbase.lastTradeId]).toEqual([40, 40])
    expect(candleDifferences([{ ...binance, lastTradeId: 21 }, coinbase], reference)).toEqual([
      `binance:BTC-USDT 1m ${new Date(t0).toISOString()}: lastTradeId 21, reference 22`
    ])
    const { firstTradeId: _f, lastTradeId: _l, ...withoutIds } = binance
    expect(candleDifferences([withoutIds, coinbase], reference)).toEqual([])
  })
})
