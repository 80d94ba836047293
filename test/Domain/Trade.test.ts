import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { formatMarket } from "../../src/Domain/Market.js"
import { decimalOfNumber, readDecimal, TradeJson, toTrade } from "../../src/Domain/Trade.js"

describe("Decimal", () => {
  it("reads venue decimal strings once, keeping the text", () => {
    expect(readDecimal("0.001")).toEqual(Either.right({ value: 0.001, text: "0.001" }))
    expect(readDecimal("27000.10")).toEqual(Either.right({ value: 27000.1, text: "27000.10" }))
    expect(readDecimal("450")).toEqual(Either.right({ value: 450, text: "450" }))
  })

  it("refuses empty, negative, signed, exponent and non-finite text", () => {
    for (const bad of ["", "-1", "+1", "1e5", "NaN", "Infinity", ".5", "5.", " 1", "0x10", "1,5", "9".repeat(41)])
      expect(Either.isLeft(readDecimal(bad)), bad).toBe(true)
    expect(Either.isLeft(readDecimal(`${"9".repeat(40)}`))).toBe(false)
  })

  it("gives numbers a plain text that reads back to the same number", () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-12, max: 1e12, noNaN: true }), (n) => {
        const d = Either.getOrThrow(decimalOfNumber(n))
        expect(Number(d.text)).toBe(n)
      })
    )
    expect(Either.getOrThrow(decimalOfNumber(1e-7)).text).toBe("0.0000001")
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(Either.isLeft(decimalOfNumber(bad))).toBe(true)
  })
})

describe("Trade", () => {
  it("goes to JSON and back", () => {
    const trade = toTrade(
      formatMarket({ venue: "binance", base: "BTC", quote: "USDT" }),
      {
        symbol: "BTCUSDT",
        tradeId: 12345,
        price: { value: 0.001, text: "0.001" },
        size: { value: 100, text: "100" },
        side: "sell",
        eventTime: 1672515782136
      },
      1672515782200
    )
    const json = Schema.encodeSync(TradeJson)(trade)
    expect(Schema.decodeSync(TradeJson)(json)).toEqual(trade)
  })
})
