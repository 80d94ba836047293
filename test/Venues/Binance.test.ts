import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { decodeBinanceFrame, venueKline } from "../../src/Venues/Binance/Frames.js"

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

// Frames as Binance's documentation and research/venues.md show them.
const aggTrade =
  '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,' +
  '"m":true,"M":true}'
const kline =
  '{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m",' +
  '"f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000",' +
  '"V":"500","Q":"0.500","B":"123456"}}'

const withField = (frame: string, field: string, value: string) =>
  JSON.stringify({ ...JSON.parse(frame), [field]: JSON.parse(value) })

describe("Binance frames", () => {
  it("reads an aggTrade: decimals once, the taker's side from m, the trade time T", () => {
    expect(decodeBinanceFrame(aggTrade)).toEqual({
      _tag: "AggTrade",
      stream: undefined,
      trade: {
        symbol: "BNBBTC",
        tradeId: 12345,
        price: { value: 0.001, text: "0.001" },
        size: { value: 100, text: "100" },
        side: "sell",
        eventTime: 1672515782136,
        firstTradeId: 100,
        lastTradeId: 105
      },
      sentTime: 1672515782136
    })
    const buy = decodeBinanceFrame(withField(aggTrade, "m", "false"))
    expect(buy._tag === "AggTrade" && buy.trade.side).toBe("buy")
  })

  it("unwraps a combined stream's frames and keeps the stream name", () => {
    const frame = decodeBinanceFrame(`{"stream":"bnbbtc@aggTrade","data":${aggTrade}}`)
    expect(frame._tag === "AggTrade" && [frame.stream, frame.trade.tradeId]).toEqual(["bnbbtc@aggTrade", 12345])
    const k = decodeBinanceFrame(`{"stream":"bnbbtc@kline_1m","data":${kline}}`)
    expect(k._tag === "Kline" && k.stream).toBe("bnbbtc@kline_1m")
  })

  it("reads a kline, open and closed", () => {
    const open = decodeBinanceFrame(kline)
    expect(open).toMatchObject({
      _tag: "Kline",
      symbol: "BNBBTC",
      interval: "1m",
      openTime: 1672515780000,
      closeTime: 1672515839999,
      firstTradeId: 100,
      lastTradeId: 200,
      open: { text: "0.0010" },
      high: { value: 0.0025 },
      volume: { text: "1000" },
      trades: 100,
      closed: false
    })
    const closed = JSON.parse(kline)
    closed.k.x = true
    expect(decodeBinanceFrame(JSON.stringify(closed))).toMatchObject({ _tag: "Kline", closed: true })
  })

  it("reads acks, errors and serverShutdown", () => {
    expect(decodeBinanceFrame('{"result":null,"id":1}')).toEqual({ _tag: "Ack", id: 1, result: null })
    expect(decodeBinanceFrame('{"result":["btcusdt@aggTrade"],"id":"3"}')).toMatchObject({ _tag: "Ack", id: "3" })
    expect(decodeBinanceFrame('{"code":2,"msg":"Invalid request: unknown variant","id":1}')).toEqual({
      _tag: "VenueError",
      code: 2,
      message: "Invalid request: unknown variant",
      id: 1
    })
    expect(decodeBinanceFrame('{"error":{"code":3,"msg":"Invalid JSON"},"id":null}')).toMatchObject({
      _tag: "VenueError",
      code: 3,
      id: undefined
    })
    expect(decodeBinanceFrame('{"e":"serverShutdown","E":1770123456789}')).toEqual({
      _tag: "ServerShutdown",
      time: 1770123456789
    })
    expect(decodeBinanceFrame('{"event":{"e":"serverShutdown","E":1770123456789}}')).toMatchObject({
      _tag: "ServerShutdown"
    })
  })

  it("calls frames of other kinds Unknown, with their kind", () => {
    expect(decodeBinanceFrame('{"e":"depthUpdate","E":1,"s":"BNBBTC"}')).toMatchObject({
      _tag: "Unknown",
      kind: "depthUpdate"
    })
    expect(decodeBinanceFrame("[1,2]")).toMatchObject({ _tag: "Unknown", kind: "?" })
    expect(decodeBinanceFrame('{"hello":1}')).toMatchObject({ _tag: "Unknown", kind: "?" })
  })

  it("calls a broken frame Malformed and says which field is wrong", () => {
    const cases: Array<[string, RegExp]> = [
      ["not json", /JSON/],
      [withField(aggTrade, "p", '""'), /^p: .*empty/],
      [withField(aggTrade, "p", '"-1"'), /^p: .*non-negative decimal/],
      [withField(aggTrade, "p", '"0"'), /^p: expected a positive amount/],
      [withField(aggTrade, "q", '"1e5"'), /^q: /],
      [withField(aggTrade, "q", '"NaN"'), /^q: /],
      [withField(aggTrade, "p", "0.001"), /^p: Expected string/],
      [withField(aggTrade, "a", "1.5"), /^a: /],
      [withField(aggTrade, "a", "-1"), /^a: /],
      [withField(aggTrade, "T", '"1672515782136"'), /^T: /],
      [withField(aggTrade, "m", '"true"'), /^m: /],
      ['{"e":"aggTrade"}', /is missing/],
      ['{"e":"serverShutdown"}', /^E: is missing/]
    ]
    for (const [text, reason] of cases) {
      const frame = decodeBinanceFrame(text)
      expect(frame._tag, text).toBe("Malformed")
      expect(frame._tag === "Malformed" && frame.reason, text).toMatch(reason)
    }
    expect(decodeBinanceFrame(withField(aggTrade, "p", '""'))).toMatchObject({ kind: "aggTrade" })
  })

  it("reads any generated aggTrade back exactly, and never throws on anything", () => {
    const decimal = fc.tuple(fc.nat({ max: 1_000_000 }), fc.option(fc.stringMatching(/^\d{1,8}$/), { nil: undefined }))
    const positive = decimal.map(([i, f]) => (f === undefined ? `${i + 1}` : `${i + 1}.${f}`))
    fc.assert(
      fc.property(fc.nat(), positive, positive, fc.boolean(), fc.nat({ max: 4e12 }), (a, p, q, m, t) => {
        const text = JSON.stringify({ e: "aggTrade", E: t, s: "BTCUSDT", a, p, q, f: a, l: a, T: t, m, M: true })
        const frame = decodeBinanceFrame(text)
        expect(frame._tag).toBe("AggTrade")
        if (frame._tag !== "AggTrade") return
        expect([frame.trade.tradeId, frame.trade.price.text, frame.trade.size.text]).toEqual([a, p, q])
        expect(frame.trade.price.value).toBe(Number(p))
      }),
      { seed }
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ e: "aggTrade", v }))
        ),
        (s) => {
          expect(["Unknown", "Malformed", "Ack", "VenueError"]).toContain(decodeBinanceFrame(s)._tag)
        }
      ),
      { seed }
    )
  })

  const btc = "binance:BTC-USDT" as Market
  const decimal = fc
    .tuple(fc.nat({ max: 1_000_000 }), fc.option(fc.stringMatching(/^\d{1,8}$/), { nil: undefined }))
    .map(([i, f]) => (f === undefined ? `${i}` : `${i}.${f}`))
  const klineArb = fc.record({
    t: fc.nat({ max: 66_666_666 }).map((m) => m * 60_000),
    f: fc.integer({ min: -1, max: 1e12 }),
    span: fc.nat({ max: 5000 }),
    o: decimal,
    h: decimal,
    l: decimal,
    c: decimal,
    v: decimal,
    n: fc.nat({ max: 100_000 }),
    x: fc.boolean(),
    combined: fc.boolean()
  })

  it("reads any generated kline_1m back exactly; a closed one is the bus's Kline with the venue's decimal text", () => {
    fc.assert(
      fc.property(klineArb, fc.nat({ max: 4e12 }), (g, at) => {
        const L = g.f === -1 ? -1 : g.f + g.span
        const k = { t: g.t, T: g.t + 59_999, s: "BTCUSDT", i: "1m", f: g.f, L, o: g.o, c: g.c, h: g.h, l: g.l, v: g.v }
        const data = {
          e: "kline",
          E: g.t + 1,
          s: "BTCUSDT",
          k: { ...k, n: g.n, x: g.x, q: "1.5", V: "0", Q: "0", B: "0" }
        }
        const text = JSON.stringify(g.combined ? { stream: "btcusdt@kline_1m", data } : data)
        const frame = decodeBinanceFrame(text)
        expect(frame._tag).toBe("Kline")
        if (frame._tag !== "Kline") return
        expect([frame.closed, frame.stream]).toEqual([g.x, g.combined ? "btcusdt@kline_1m" : undefined])
        const kline = Either.getOrThrow(venueKline(btc, frame, at))
        expect({ ...kline }).toEqual({
          type: "kline",
          market: btc,
          interval: "1m",
          bucketStart: g.t,
          open: g.o,
          high: g.h,
          low: g.l,
          close: g.c,
          volume: g.v,
          firstTradeId: g.f,
          lastTradeId: L,
          tradeCount: g.n,
          receivedAt: at
        })
      }),
      { seed }
    )
  })

  it("calls a broken kline Malformed of kind kline, and a kline of another interval no bus Kline", () => {
    const closed = JSON.parse(kline)
    closed.k.x = true
    const withK = (field: string, value: unknown) => JSON.stringify({ ...closed, k: { ...closed.k, [field]: value } })
    const cases: Array<[string, RegExp]> = [
      [withK("o", "-1"), /^k\.o: /],
      [withK("v", 12), /^k\.v: Expected string/],
      [withK("f", -2), /^k\.f: /],
      [withK("L", 1.5), /^k\.L: /],
      [withK("n", -1), /^k\.n: /],
      [withK("x", "true"), /^k\.x: /],
      [withK("t", undefined), /^k\.t: is missing/],
      [JSON.stringify({ ...closed, k: undefined }), /^k: is missing/]
    ]
    for (const [text, reason] of cases) {
      const frame = decodeBinanceFrame(text)
      expect(frame, text).toMatchObject({ _tag: "Malformed", kind: "kline" })
      expect(frame._tag === "Malformed" && frame.reason, text).toMatch(reason)
    }
    const fiveMinutes = decodeBinanceFrame(withK("i", "5m"))
    expect(fiveMinutes._tag === "Kline" && Either.isLeft(venueKline(btc, fiveMinutes, 1))).toBe(true)
    const fine = decodeBinanceFrame(JSON.stringify(closed))
    expect(fine._tag === "Kline" && Either.getOrThrow(venueKline(btc, fine, 1)).open).toBe("0.0010")
  })
})
