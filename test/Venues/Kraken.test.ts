import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { decodeKrakenFrame } from "../../src/Venues/Kraken/Frames.js"

// Frames as Kraken's v2 documentation and research/venues.md show them.
const row = {
  symbol: "MATIC/USD",
  side: "buy",
  price: 0.5147,
  qty: 6423.46326,
  ord_type: "limit",
  trade_id: 4665846,
  timestamp: "2023-09-25T07:48:36.925533Z"
}
const trades = (type: string, data: ReadonlyArray<unknown>) => JSON.stringify({ channel: "trade", type, data })

describe("Kraken v2 frames", () => {
  it("reads a trade update and a snapshot with several trades; numbers get their decimal text", () => {
    expect(decodeKrakenFrame(trades("update", [row]))).toEqual({
      _tag: "Trades",
      snapshot: false,
      trades: [
        {
          symbol: "MATIC/USD",
          tradeId: 4665846,
          price: { value: 0.5147, text: "0.5147" },
          size: { value: 6423.46326, text: "6423.46326" },
          side: "buy",
          eventTime: Date.UTC(2023, 8, 25, 7, 48, 36, 925)
        }
      ]
    })
    const snapshot = decodeKrakenFrame(
      trades("snapshot", [row, { ...row, trade_id: 4665847, side: "sell", qty: 1e-7 }])
    )
    expect(snapshot).toMatchObject({ _tag: "Trades", snapshot: true })
    expect(snapshot._tag === "Trades" && snapshot.trades.map((t) => [t.tradeId, t.side, t.size.text])).toEqual([
      [4665846, "buy", "6423.46326"],
      [4665847, "sell", "0.0000001"]
    ])
  })

  it("reads heartbeat, status, acks, pong and errors", () => {
    expect(decodeKrakenFrame('{"channel":"heartbeat"}')).toEqual({ _tag: "Heartbeat" })
    const status =
      '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":12393906104898154338,' +
      '"system":"online","version":"2.0.0"}]}'
    expect(decodeKrakenFrame(status)).toMatchObject({ _tag: "Status", system: "online" })
    const ack =
      '{"method":"subscribe","result":{"channel":"trade","snapshot":true,"symbol":"BTC/USD"},"success":true,' +
      '"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":7}'
    expect(decodeKrakenFrame(ack)).toEqual({
      _tag: "Ack",
      method: "subscribe",
      channel: "trade",
      symbol: "BTC/USD",
      reqId: 7
    })
    expect(
      decodeKrakenFrame(
        '{"method":"pong","req_id":1,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}'
      )
    ).toEqual({ _tag: "Pong", reqId: 1 })
    const refused =
      '{"error":"Currency pair not supported XBT/USD","method":"subscribe","success":false,"symbol":"XBT/USD",' +
      '"time_in":"2018-11-12T21:14:59.545897Z","time_out":"2018-11-12T21:14:59.545901Z"}'
    expect(decodeKrakenFrame(refused)).toEqual({
      _tag: "VenueError",
      method: "subscribe",
      message: "Currency pair not supported XBT/USD",
      symbol: "XBT/USD",
      reqId: undefined
    })
    expect(decodeKrakenFrame('{"error":"Malformed request","method":"error","success":false}')).toMatchObject({
      _tag: "VenueError",
      message: "Malformed request"
    })
  })

  it("calls other channels Unknown and broken frames Malformed, saying which field", () => {
    expect(decodeKrakenFrame('{"channel":"book","type":"update","data":[]}')).toMatchObject({
      _tag: "Unknown",
      kind: "book"
    })
    expect(decodeKrakenFrame('{"method":"add_order","success":true}')).toMatchObject({
      _tag: "Unknown",
      kind: "method:add_order"
    })
    expect(decodeKrakenFrame('[0,{},"trade"]')).toMatchObject({ _tag: "Unknown", kind: "?" })
    const cases: Array<[string, RegExp]> = [
      ["", /JSON/],
      [trades("update", [{ ...row, price: "0.5147" }]), /^data\.0\.price: Expected number/],
      [trades("update", [{ ...row, price: -1 }]), /^data\.0\.price: /],
      [trades("update", [{ ...row, qty: 0 }]), /^data\.0\.qty: expected a positive amount/],
      [trades("update", [row, { ...row, trade_id: null }]), /^data\.1\.trade_id: /],
      [trades("update", [{ ...row, timestamp: 1695628116 }]), /^data\.0\.timestamp: /],
      [trades("partial", [row]), /^type: /],
      ['{"channel":"trade","type":"update"}', /^data: is missing/],
      ['{"channel":"status","data":[]}', /^data/]
    ]
    for (const [text, reason] of cases) {
      const frame = decodeKrakenFrame(text)
      expect(frame._tag === "Malformed" && frame.reason, text).toMatch(reason)
    }
  })

  it("never throws, whatever arrives", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((data) => JSON.stringify({ channel: "trade", data }))
        ),
        (s) => {
          expect(["Unknown", "Malformed", "Heartbeat", "VenueError", "Pong", "Ack"]).toContain(
            decodeKrakenFrame(s)._tag
          )
        }
      )
    )
  })

  it("reads any generated trade message back exactly", () => {
    const trade = fc.record({
      symbol: fc.constantFrom("BTC/USD", "ETH/EUR"),
      side: fc.constantFrom("buy", "sell"),
      price: fc.double({ min: 1e-8, max: 1e7, noNaN: true }),
      qty: fc.double({ min: 1e-8, max: 1e7, noNaN: true }),
      ord_type: fc.constantFrom("limit", "market"),
      trade_id: fc.nat(),
      ms: fc.nat({ max: 4e12 })
    })
    fc.assert(
      fc.property(fc.array(trade, { maxLength: 5 }), fc.boolean(), (rows, snapshot) => {
        const data = rows.map(({ ms, ...t }) => ({ ...t, timestamp: `${new Date(ms).toISOString().slice(0, -1)}123Z` }))
        const frame = decodeKrakenFrame(trades(snapshot ? "snapshot" : "update", data))
        expect(frame._tag === "Trades" && frame.snapshot).toBe(snapshot)
        expect(
          frame._tag === "Trades" &&
            frame.trades.map((t) => [t.tradeId, t.price.value, t.size.value, t.side, t.eventTime])
        ).toEqual(rows.map((t) => [t.trade_id, t.price, t.qty, t.side, t.ms]))
      })
    )
  })
})
