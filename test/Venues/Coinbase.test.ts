import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { decodeCoinbaseFrame } from "../../src/Venues/Coinbase/Frames.js"

// Frames as Coinbase's documentation and research/venues.md show them.
const match =
  '{"type":"match","trade_id":1568268,"maker_order_id":"cac01d6d-2fdd-4e6a-b1d9-4a4b4e6a1c3e",' +
  '"taker_order_id":"3dec64e4-5b8c-4c3a-a2b3-2c8c9d7e1f00","side":"sell","size":"450","price":"0.791",' +
  '"product_id":"SKL-USD","sequence":201390075,"time":"2021-04-17T16:43:37.121358Z"}'
const heartbeat =
  '{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}'
const subscriptions =
  '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD","ETH-USD"]},' +
  '{"name":"heartbeat","product_ids":["BTC-USD"]}]}'

const withField = (frame: string, field: string, value: unknown) =>
  JSON.stringify({ ...JSON.parse(frame), [field]: value })

describe("Coinbase frames", () => {
  it("reads a match: the taker's side (the opposite of the maker's), time to the millisecond", () => {
    expect(decodeCoinbaseFrame(match)).toEqual({
      _tag: "Match",
      trade: {
        symbol: "SKL-USD",
        tradeId: 1568268,
        price: { value: 0.791, text: "0.791" },
        size: { value: 450, text: "450" },
        side: "buy",
        eventTime: Date.UTC(2021, 3, 17, 16, 43, 37, 121)
      },
      last: false,
      sequence: 201390075
    })
    expect(decodeCoinbaseFrame(withField(match, "side", "buy"))).toMatchObject({ trade: { side: "sell" } })
    expect(decodeCoinbaseFrame(withField(match, "type", "last_match"))).toMatchObject({ _tag: "Match", last: true })
    expect(decodeCoinbaseFrame(withField(match, "time", "2021-04-17T16:43:37Z"))).toMatchObject({
      trade: { eventTime: Date.UTC(2021, 3, 17, 16, 43, 37) }
    })
  })

  it("reads heartbeats, subscriptions and errors", () => {
    expect(decodeCoinbaseFrame(heartbeat)).toEqual({
      _tag: "Heartbeat",
      productId: "BTC-USD",
      lastTradeId: 20,
      sequence: 90,
      time: Date.UTC(2014, 10, 7, 8, 19, 28, 464)
    })
    expect(decodeCoinbaseFrame(subscriptions)).toEqual({
      _tag: "Subscriptions",
      channels: [
        { name: "matches", productIds: ["BTC-USD", "ETH-USD"] },
        { name: "heartbeat", productIds: ["BTC-USD"] }
      ]
    })
    expect(
      decodeCoinbaseFrame('{"type":"error","message":"Failed to subscribe","reason":"ABC-USD is not a valid product"}')
    ).toEqual({
      _tag: "VenueError",
      message: "Failed to subscribe",
      reason: "ABC-USD is not a valid product"
    })
  })

  it("calls other types Unknown and broken frames Malformed, saying which field", () => {
    expect(decodeCoinbaseFrame('{"type":"ticker","product_id":"BTC-USD"}')).toMatchObject({
      _tag: "Unknown",
      kind: "ticker"
    })
    expect(decodeCoinbaseFrame('{"product_id":"BTC-USD"}')).toMatchObject({ _tag: "Unknown", kind: "?" })
    const cases: Array<[string, RegExp]> = [
      ["{", /JSON/],
      [withField(match, "price", ""), /^price: .*empty/],
      [withField(match, "price", "-0.791"), /^price: /],
      [withField(match, "size", "0"), /^size: expected a positive amount/],
      [withField(match, "size", 450), /^size: Expected string/],
      [withField(match, "trade_id", "1568268"), /^trade_id: /],
      [withField(match, "side", "long"), /^side: /],
      [withField(match, "time", "yesterday"), /^time: expected a UTC time/],
      [withField(match, "time", "2021-13-45T16:43:37.121358Z"), /^time: /],
      [withField(heartbeat, "last_trade_id", null), /^last_trade_id: /],
      ['{"type":"error"}', /^message: is missing/]
    ]
    for (const [text, reason] of cases) {
      const frame = decodeCoinbaseFrame(text)
      expect(frame._tag === "Malformed" && frame.reason, text).toMatch(reason)
    }
  })

  it("never throws, whatever arrives", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ type: "match", v }))
        ),
        (s) => {
          expect(["Unknown", "Malformed"]).toContain(decodeCoinbaseFrame(s)._tag)
        }
      )
    )
  })

  it("reads any generated match back exactly", () => {
    const decimal = fc
      .tuple(fc.nat({ max: 1_000_000 }), fc.stringMatching(/^\d{1,8}$/))
      .map(([i, f]) => `${i + 1}.${f}`)
    fc.assert(
      fc.property(
        fc.nat(),
        decimal,
        decimal,
        fc.constantFrom("buy", "sell"),
        fc.nat({ max: 4e12 }),
        fc.nat({ max: 999 }),
        (id, price, size, side, ms, micros) => {
          const time = `${new Date(ms).toISOString().slice(0, -1)}${String(micros).padStart(3, "0")}Z`
          const text = JSON.stringify({
            type: "match",
            trade_id: id,
            side,
            size,
            price,
            product_id: "BTC-USD",
            sequence: 1,
            time
          })
          const frame = decodeCoinbaseFrame(text)
          expect(
            frame._tag === "Match" && [
              frame.trade.tradeId,
              frame.trade.price.text,
              frame.trade.size.text,
              frame.trade.eventTime
            ]
          ).toEqual([id, price, size, ms])
          expect(frame._tag === "Match" && frame.trade.side).toBe(side === "buy" ? "sell" : "buy")
        }
      )
    )
  })
})
