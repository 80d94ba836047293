import { afterEach, describe, expect, it } from "@effect/vitest"
import { WebSocket } from "ws"
import type { Market } from "../../src/Domain/Market.js"
import { decodeBinanceFrame } from "../../src/Venues/Binance/Frames.js"
import { decodeCoinbaseFrame } from "../../src/Venues/Coinbase/Frames.js"
import { decodeKrakenFrame } from "../../src/Venues/Kraken/Frames.js"
import { type FakeVenue, type FakeVenueOptions, startFakeVenue } from "../support/FakeVenue.js"

// The fake venue against a plain `ws` client: what it sends must be what the decoders read, and a scripted gap must
// show up as missing ids over the WebSocket that REST then serves exactly. Waits are on events, never on time.

const btcUsdt = "binance:BTC-USDT" as Market
const coinbaseBtc = "coinbase:BTC-USD" as Market
const krakenBtc = "kraken:BTC-USD" as Market

/** A plain client that keeps every frame and can wait for the n-th one, or for the close. */
const connect = async (url: string, options: { readonly autoPong?: boolean } = {}) => {
  const socket = new WebSocket(url, options)
  const frames: Array<string> = []
  const waiters: Array<() => void> = []
  socket.on("message", (data) => {
    frames.push(data.toString())
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  const frameCount = (n: number) =>
    new Promise<ReadonlyArray<string>>((resolve) => {
      const check = () => (frames.length >= n ? resolve(frames.slice(0, n)) : waiters.push(check))
      check()
    })
  return { socket, frames, frameCount, closed }
}

let venues: Array<FakeVenue> = []
const start = async (options: FakeVenueOptions) => {
  const venue = await startFakeVenue(options)
  venues.push(venue)
  return venue
}
afterEach(async () => {
  await Promise.all(venues.map((v) => v.close()))
  venues = []
})
const getJson = async (url: string) => {
  const res = await fetch(url)
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown }
}
const ids = (trades: ReadonlyArray<{ readonly tradeId: number }>) => trades.map((t) => t.tradeId)

describe("FakeVenue", () => {
  it("binance: a gap is missing over the WebSocket, and aggTrades?fromId serves exactly the missing trades", async () => {
    const venue = await start({ venue: "binance", markets: [btcUsdt] })
    const client = await connect(`${venue.wsUrl}/stream?streams=btcusdt@aggTrade`)
    await venue.subscribed()
    venue.send(btcUsdt, 3)
    const missing = venue.gap(btcUsdt, 4)
    venue.send(btcUsdt, 3)
    const frames = (await client.frameCount(6)).map(decodeBinanceFrame)
    const seen = frames.map((f) => (f._tag === "AggTrade" ? f.trade.tradeId : -1))
    expect(seen).toEqual([1000, 1001, 1002, 1007, 1008, 1009])
    expect(frames[0]).toMatchObject({ stream: "btcusdt@aggTrade", trade: { symbol: "BTCUSDT" } })
    const rest = await getJson(`${venue.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=1003&limit=4`)
    expect(rest.status).toBe(200)
    const rows = rest.body as ReadonlyArray<{ a: number; p: string; q: string; T: number }>
    expect(rows.map((r) => r.a)).toEqual(ids(missing))
    expect(rows.map((r) => [r.p, r.q, r.T])).toEqual(missing.map((t) => [t.price, t.size, t.time]))
    expect(ids(venue.trades(btcUsdt))).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009])
  })

  it("binance: SUBSCRIBE is acked; duplicates, pings, serverShutdown, bad frames and a disconnect", async () => {
    const venue = await start({ venue: "binance", markets: [btcUsdt] })
    const client = await connect(`${venue.wsUrl}/ws`)
    client.socket.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@aggTrade"], id: 1 }))
    await venue.subscribed()
    venue.send(btcUsdt, 2)
    venue.duplicate(1)
    venue.shutdown()
    venue.raw("{not json")
    // ws answers the ping before the handler runs, so the venue has the pong before the second SUBSCRIBE.
    const second = JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@aggTrade"], id: 2 })
    client.socket.once("ping", () => client.socket.send(second))
    venue.ping("p-1")
    const frames = (await client.frameCount(7)).map(decodeBinanceFrame)
    expect(frames.map((f) => f._tag)).toEqual([
      "Ack",
      "AggTrade",
      "AggTrade",
      "AggTrade",
      "ServerShutdown",
      "Malformed",
      "Ack"
    ])
    expect(venue.pongs).toEqual(["p-1"])
    expect(frames.map((f) => (f._tag === "AggTrade" ? f.trade.tradeId : null)).slice(1, 4)).toEqual([1000, 1001, 1001])
    venue.disconnect()
    expect(await client.closed).toBe(1006)
    expect(venue.received).toEqual(['{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}', second])
  })

  it("binance: REST refuses with 429 and 418 and Retry-After, then answers", async () => {
    const venue = await start({ venue: "binance", markets: [btcUsdt] })
    venue.gap(btcUsdt, 2)
    venue.rateLimit({ status: 429, retryAfter: 3 })
    venue.rateLimit({ status: 418, retryAfter: 120, times: 2 })
    const url = `${venue.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=1000`
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await getJson(url))
    expect(answers.map((a) => [a.status, a.headers.get("retry-after")])).toEqual([
      [429, "3"],
      [418, "120"],
      [418, "120"],
      [200, null]
    ])
    expect(venue.requests.map((r) => r.status)).toEqual([429, 418, 418, 200])
    expect((await getJson(`${venue.restUrl}/api/v3/aggTrades?symbol=ETHUSDT`)).status).toBe(400)
  })

  it("coinbase: subscriptions, matches with a gap, heartbeats naming the last id, and /trades?after paging older", async () => {
    const venue = await start({ venue: "coinbase", markets: [coinbaseBtc] })
    const client = await connect(venue.wsUrl)
    client.socket.send(
      JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channels: ["matches", "heartbeat"] })
    )
    await venue.subscribed()
    venue.send(coinbaseBtc, 2)
    const missing = venue.gap(coinbaseBtc, 3)
    venue.heartbeat()
    venue.send(coinbaseBtc, 1)
    const frames = (await client.frameCount(5)).map(decodeCoinbaseFrame)
    expect(frames.map((f) => f._tag)).toEqual(["Subscriptions", "Match", "Match", "Heartbeat", "Match"])
    expect(
      frames.map((f) => (f._tag === "Match" ? f.trade.tradeId : f._tag === "Heartbeat" ? f.lastTradeId : 0))
    ).toEqual([0, 1000, 1001, 1004, 1005])
    const first = venue.trades(coinbaseBtc)[2]
    expect(frames[1]).toMatchObject({ trade: { side: venue.trades(coinbaseBtc)[0]?.side } })
    const rest = await getJson(`${venue.restUrl}/products/BTC-USD/trades?after=1005&limit=3`)
    const rows = rest.body as ReadonlyArray<{ trade_id: number; price: string }>
    expect(rows.map((r) => r.trade_id)).toEqual(ids(missing).reverse())
    expect([rest.headers.get("cb-before"), rest.headers.get("cb-after")]).toEqual(["1004", "1002"])
    expect(rows.at(-1)?.price).toBe(first?.price)
    const newer = await getJson(`${venue.restUrl}/products/BTC-USD/trades?before=1001&limit=3`)
    expect((newer.body as ReadonlyArray<{ trade_id: number }>).map((r) => r.trade_id)).toEqual([1004, 1003, 1002])
  })

  it("kraken: status, acks and a snapshot; pong; a lost range is on neither the WebSocket nor REST", async () => {
    const venue = await start({ venue: "kraken", markets: [krakenBtc] })
    venue.gap(krakenBtc, 2)
    const client = await connect(venue.wsUrl)
    client.socket.send(
      JSON.stringify({ method: "subscribe", params: { channel: "trade", symbol: ["BTC/USD", "XBT/EUR"] } })
    )
    client.socket.send(JSON.stringify({ method: "ping", req_id: 7 }))
    await venue.subscribed()
    venue.send(krakenBtc, 1)
    venue.lose(krakenBtc, 2)
    venue.send(krakenBtc, 1)
    venue.heartbeat()
    const frames = (await client.frameCount(8)).map(decodeKrakenFrame)
    expect(frames.map((f) => f._tag)).toEqual([
      "Status",
      "Ack",
      "VenueError",
      "Trades",
      "Pong",
      "Trades",
      "Trades",
      "Heartbeat"
    ])
    expect(frames[3]).toMatchObject({ snapshot: true, trades: [{ tradeId: 1000 }, { tradeId: 1001 }] })
    expect(frames[4]).toEqual({ _tag: "Pong", reqId: 7 })
    const live = frames.flatMap((f) => (f._tag === "Trades" && !f.snapshot ? ids(f.trades) : []))
    expect(live).toEqual([1002, 1005])
    const rest = await getJson(`${venue.restUrl}/0/public/Trades?pair=XBTUSD&since=0`)
    const result = (rest.body as { result: { XXBTZUSD: ReadonlyArray<ReadonlyArray<unknown>>; last: string } }).result
    expect(result.XXBTZUSD.map((row) => row[6])).toEqual([1000, 1001, 1002, 1005])
    const since = (await getJson(`${venue.restUrl}/0/public/Trades?pair=XBTUSD&since=${result.last}`)).body
    expect(since).toEqual({ error: [], result: { XXBTZUSD: [], last: result.last } })
  })

  it("kraken: a rate limit is an EAPI error body", async () => {
    const venue = await start({ venue: "kraken", markets: [krakenBtc] })
    venue.rateLimit({ status: 429 })
    const answer = await getJson(`${venue.restUrl}/0/public/Trades?pair=XBTUSD`)
    expect([answer.status, answer.body]).toEqual([429, { error: ["EAPI:Rate limit exceeded"] }])
  })

  it("stalls and resumes frames in order; drops a client that does not answer pings", async () => {
    const venue = await start({ venue: "kraken", markets: [krakenBtc] })
    const subscribe = JSON.stringify({
      method: "subscribe",
      params: { channel: "trade", symbol: ["BTC/USD"], snapshot: false }
    })
    const quiet = await connect(venue.wsUrl, { autoPong: false })
    const polite = await connect(venue.wsUrl)
    for (const c of [quiet, polite]) c.socket.send(subscribe)
    await venue.subscribed(2)
    await polite.frameCount(2)
    venue.stall()
    venue.send(krakenBtc, 2)
    // The ping is not held back: were the trades sent, they would have arrived before it.
    const pinged = new Promise<number>((resolve) =>
      polite.socket.once("ping", () => {
        resolve(polite.frames.length)
        polite.socket.send("x")
      })
    )
    venue.ping("are you there")
    expect(await pinged).toBe(2)
    // The polite client's pong travels before its "x", so the venue has it once "x" is in.
    await venue.receivedCount(3)
    expect(venue.dropUnanswered()).toBe(1)
    expect(await quiet.closed).toBe(1006)
    venue.resume()
    const frames = (await polite.frameCount(5)).map(decodeKrakenFrame)
    expect(frames.map((f) => f._tag)).toEqual(["Status", "Ack", "Trades", "Trades", "VenueError"])
    expect(venue.pongs).toEqual(["are you there"])
  })
})
