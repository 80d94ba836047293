import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import {
  binanceStream,
  binanceSymbol,
  coinbaseProduct,
  formatMarket,
  fromKrakenAsset,
  krakenRestPair,
  krakenSymbol,
  Market,
  MarketFromString,
  type MarketParts,
  parseMarket,
  parseMarketInput,
  symbolIndex,
  venues
} from "../../src/Domain/Market.js"

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { seed, numRuns: 500 }

const asset = fc.stringMatching(/^[A-Z0-9]{1,15}$/)
const parts: fc.Arbitrary<MarketParts> = fc
  .record({ venue: fc.constantFrom(...venues), base: asset, quote: asset })
  .filter((m) => m.base !== m.quote)
const right = <A>(e: Either.Either<A, string>): A => Either.getOrThrowWith(e, (m) => new Error(m))
const left = <A>(e: Either.Either<A, string>): string =>
  Either.getOrThrowWith(Either.flip(e), () => new Error("accepted"))

describe("Market", () => {
  it("format ∘ parse is the identity on valid markets, and parse ∘ format on parts", () => {
    fc.assert(
      fc.property(parts, (m) => {
        const s = formatMarket(m)
        expect(formatMarket(right(parseMarket(s)))).toBe(s)
        expect(right(parseMarket(s))).toEqual(m)
        expect(Schema.decodeSync(MarketFromString)(s)).toEqual(m)
        expect(Schema.encodeSync(MarketFromString)(m)).toBe(s)
        expect(Schema.is(Market)(s)).toBe(true)
      }),
      params
    )
  })

  it("reads the examples of the design", () => {
    expect(right(parseMarket("binance:BTC-USDT"))).toEqual({ venue: "binance", base: "BTC", quote: "USDT" })
    for (const s of ["coinbase:BTC-USD", "kraken:BTC-USD", "coingecko:BTC-USD", "simulator:BTC-USD"])
      expect(formatMarket(right(parseMarket(s)))).toBe(s)
  })

  it("refuses invalid strings with a message saying what is wrong", () => {
    expect(left(parseMarket("BTC-USD"))).toMatch(/expected venue:BASE-QUOTE/)
    expect(left(parseMarket("binance:btc-usdt"))).toMatch(/upper-case/)
    expect(left(parseMarket("ftx:BTC-USD"))).toMatch(/unknown venue "ftx" \(known: binance, coinbase/)
    expect(left(parseMarket("kraken:BTC-BTC"))).toMatch(/same asset/)
    expect(left(parseMarket("kraken:BTC/USD"))).toMatch(/expected venue:BASE-QUOTE/)
    expect(left(parseMarket(" kraken:BTC-USD"))).toMatch(/not a market/)
    expect(left(parseMarket(`binance:${"A".repeat(16)}-USD`))).toMatch(/not a market/)
    const decoded = Schema.decodeUnknownEither(Market)("ftx:BTC-USD")
    expect(Either.isLeft(decoded) && decoded.left.message).toMatch(/unknown venue "ftx"/)
  })

  it("refuses every string that is not the format of some parts", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const read = parseMarket(s)
        if (Either.isRight(read)) expect(formatMarket(read.right)).toBe(s)
      }),
      params
    )
  })

  it("reads what a person types, whatever the case", () => {
    expect(formatMarket(right(parseMarketInput(" Binance:btc-usdt ")))).toBe("binance:BTC-USDT")
    expect(left(parseMarketInput("binance"))).toMatch(/not a market/)
  })

  it("names the market the way each venue does", () => {
    const btcUsdt = right(parseMarket("binance:BTC-USDT"))
    expect(binanceSymbol(btcUsdt)).toBe("BTCUSDT")
    expect(binanceStream(btcUsdt)).toBe("btcusdt")
    expect(coinbaseProduct(right(parseMarket("coinbase:BTC-USD")))).toBe("BTC-USD")
    const kraken = right(parseMarket("kraken:BTC-USD"))
    expect(krakenSymbol(kraken)).toBe("BTC/USD")
    expect(krakenRestPair(kraken)).toBe("XBTUSD")
    expect(krakenRestPair(right(parseMarket("kraken:DOGE-USD")))).toBe("XDGUSD")
    expect(krakenRestPair(right(parseMarket("kraken:ETH-USD")))).toBe("ETHUSD")
    expect(fromKrakenAsset("XBT")).toBe("BTC")
    expect(fromKrakenAsset("ETH")).toBe("ETH")
  })

  it("finds a market back from the symbol a venue's frame carries", () => {
    const index = symbolIndex(
      ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD"].map((s) => right(parseMarket(s)))
    )
    expect(index.get("BTCUSDT")).toBe("binance:BTC-USDT")
    expect(index.get("BTC-USD")).toBe("coinbase:BTC-USD")
    expect(index.get("BTC/USD")).toBe("kraken:BTC-USD")
    expect(index.get("XBT/USD")).toBe("kraken:BTC-USD")
    expect(index.get("ETHUSDT")).toBeUndefined()
  })
})
