import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, Stream, TestClock } from "effect"
import { marketParts } from "../../src/Domain/Market.js"
import { decodeBinanceFrame } from "../../src/Venues/Binance/Frames.js"
import { decodeCoinbaseFrame } from "../../src/Venues/Coinbase/Frames.js"
import { backoffDelay, frames } from "../../src/Venues/Connection.js"
import { decodeKrakenFrame } from "../../src/Venues/Kraken/Frames.js"
import { connectedGauge, connectionsCounter, pausedCounter, reconnectsCounter } from "../../src/Venues/Metrics.js"
import { plans } from "../../src/Venues/Protocol.js"
import { startFakeVenue } from "../support/FakeVenue.js"
import {
  awaitFake,
  btcUsdt,
  coinbaseBtc,
  connect,
  ethUsdt,
  eventually,
  fakeVenue,
  krakenBtc,
  liveSleep
} from "./ConnectionSupport.js"

// Connection.frames against the fake venue on loopback. Every wait is on an event and bounded; where the clock
// matters (stale timer, backoff, maximum age) the test clock drives it, so nothing depends on the machine's speed.

const planFor = (venue: "binance" | "coinbase" | "kraken", markets: ReadonlyArray<string>, url: string) => {
  const [plan] = plans(
    venue,
    markets.map((m) => marketParts(m as never)),
    url
  )
  if (plan === undefined) throw new Error("no plan")
  return plan
}
const counter = (m: Metric.Metric.Counter<number>) => Effect.map(Metric.value(m), (s) => s.count)
const gauge = (m: Metric.Metric.Gauge<number>) => Effect.map(Metric.value(m), (s) => s.value)
const fast = { backoff: { base: "10 millis", cap: "50 millis" } } as const

describe("Connection", () => {
  it.scopedLive(
    "binance: the combined-stream URL subscribes; trades and garbage pass through as frames, in order",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeVenue({ venue: "binance", markets: [btcUsdt, ethUsdt] })
        const conn = yield* connect({ ...planFor("binance", [btcUsdt, ethUsdt], fake.wsUrl), venue: "t-binance" })
        const open = yield* conn.next("Open")
        expect(open.connection).toBe(1)
        expect(open.url).toBe(
          `${fake.wsUrl}/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m/ethusdt@aggTrade/ethusdt@kline_1m`
        )
        yield* awaitFake(() => fake.subscribed(), "subscription")
        const sent = [...fake.send(btcUsdt, 2), ...fake.send(ethUsdt, 1)]
        fake.raw("not json {")
        fake.raw('{"e":"depthUpdate"}')
        const texts = yield* conn.texts(5)
        const decoded = texts.slice(0, 3).map(decodeBinanceFrame)
        expect(decoded.map((f) => (f._tag === "AggTrade" ? [f.trade.symbol, f.trade.tradeId] : f._tag))).toEqual(
          sent.map((t) => [t.symbol, t.tradeId])
        )
        expect(texts.slice(3)).toEqual(["not json {", '{"e":"depthUpdate"}'])
        expect(fake.received).toEqual([])
      })
  )

  it.scopedLive("coinbase: matches and heartbeat are subscribed at once; the answer and the trades are frames", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const conn = yield* connect({ ...planFor("coinbase", [coinbaseBtc], fake.wsUrl), venue: "t-coinbase" })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      expect(fake.received.map((t) => JSON.parse(t))).toEqual([
        { type: "subscribe", product_ids: ["BTC-USD"], channels: ["matches", "heartbeat"] }
      ])
      fake.send(coinbaseBtc, 1)
      fake.heartbeat()
      const tags = (yield* conn.texts(3)).map((t) => decodeCoinbaseFrame(t)._tag)
      expect(tags).toEqual(["Subscriptions", "Match", "Heartbeat"])
    })
  )

  it.scopedLive("kraken: the trade channel with a snapshot; the keep-alive ping comes back as a pong frame", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "kraken", markets: [krakenBtc] })
      const plan = planFor("kraken", [krakenBtc], fake.wsUrl)
      const conn = yield* connect({ ...plan, venue: "t-kraken", keepAlive: { ...plan.keepAlive!, every: "20 millis" } })
      yield* awaitFake(() => fake.receivedCount(2), "a subscribe and a ping")
      const [subscribe, ping] = fake.received.map((t) => JSON.parse(t))
      expect(subscribe).toEqual({
        method: "subscribe",
        params: { channel: "trade", symbol: ["BTC/USD"], snapshot: true },
        req_id: 1
      })
      expect(ping).toMatchObject({ method: "ping" })
      const tags: Array<string> = []
      while (!tags.includes("Pong")) tags.push(...(yield* conn.texts(1)).map((t) => decodeKrakenFrame(t)._tag))
      expect(tags.slice(0, 3)).toEqual(["Status", "Ack", "Trades"])
    })
  )

  it.scopedLive("WebSocket-level pings are answered with their payload (binance, coinbase)", () =>
    Effect.gen(function* () {
      for (const [venue, market] of [
        ["binance", btcUsdt],
        ["coinbase", coinbaseBtc]
      ] as const) {
        const fake = yield* fakeVenue({ venue, markets: [market] })
        yield* connect({ ...planFor(venue, [market], fake.wsUrl), venue: `t-ping-${venue}` })
        yield* awaitFake(() => fake.subscribed(), "subscription")
        fake.ping(`hello ${venue}`)
        yield* eventually(() => fake.pongs.includes(`hello ${venue}`), "a pong")
        expect(fake.dropUnanswered()).toBe(0)
      }
    })
  )

  it.scopedLive("a dropped connection is reopened after a backoff and subscribes again; the metrics count it", () =>
    Effect.gen(function* () {
      const venue = "t-reconnect"
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const conn = yield* connect({ ...planFor("coinbase", [coinbaseBtc], fake.wsUrl), ...fast, venue })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      expect(yield* gauge(connectedGauge(venue))).toBe(1)
      fake.disconnect()
      const closed = yield* conn.next("Closed")
      expect(closed.reason).toMatch(/closed by the venue|error/)
      const again = yield* conn.next("Open")
      expect(again.connection).toBe(2)
      yield* awaitFake(() => fake.receivedCount(2), "a second subscribe")
      expect(fake.received[1]).toBe(fake.received[0])
      fake.disconnect({ code: 1001, reason: "going away" })
      expect((yield* conn.next("Closed")).reason).toBe("closed by the venue (code 1001: going away)")
      expect((yield* conn.next("Open")).connection).toBe(3)
      // The third subscribe is sent after the open is counted.
      yield* awaitFake(() => fake.receivedCount(3), "a third subscribe")
      expect(fake.connections()).toBe(1)
      expect(yield* counter(connectionsCounter(venue))).toBe(3)
      expect(yield* counter(reconnectsCounter(venue))).toBe(2)
      yield* eventually(() => Effect.runSync(gauge(connectedGauge(venue))) === 1, "connected back to 1")
    })
  )

  it.scoped("the stale timer closes a silent connection, and the reconnect waits for the backoff (test clock)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "kraken", markets: [krakenBtc] })
      const plan = planFor("kraken", [krakenBtc], fake.wsUrl)
      const conn = yield* connect({ ...plan, venue: "t-stale", staleAfter: "15 seconds" })
      yield* conn.next("Open")
      yield* awaitFake(() => fake.subscribed(), "subscription")
      fake.stall()
      yield* TestClock.adjust("14 seconds")
      fake.heartbeat() // held back by the stall: the venue is silent
      yield* TestClock.adjust("1 second")
      const { event: closed } = yield* conn.until("Closed")
      expect(closed.reason).toBe("stale: no frame for 15000 ms")
      expect(closed.at).toBe(15_000)
      fake.resume()
      // The backoff sleeps on the test clock: however long we wait, no new connection until the clock moves.
      yield* liveSleep("100 millis")
      expect(conn.pending()).toBe(0)
      expect(fake.connections()).toBe(0)
      yield* TestClock.adjust("500 millis") // the first backoff is 250..500 ms with the default base of 500 ms
      expect((yield* conn.next("Open")).connection).toBe(2)
    })
  )

  it.scoped("the backoff doubles per failed attempt and starts over after a connection that lived (test clock)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const plan = planFor("coinbase", [coinbaseBtc], fake.wsUrl)
      const options = { backoff: { base: "10 seconds", cap: "80 seconds" }, resetAfter: "60 seconds" } as const
      const conn = yield* connect({ ...plan, ...options, venue: "t-backoff", staleAfter: "1 hour" })
      yield* conn.next("Open")
      /**
       * Drops the connection; returns the wait the stream then sleeps: the one sleep that appears while no connection
       * exists (the test clock keeps the sleeps of interrupted fibers in its list, so it is found as the new one).
       */
      const drop = Effect.gen(function* () {
        const before = [...(yield* TestClock.sleeps())]
        fake.disconnect()
        yield* conn.next("Closed")
        const added = (now: ReadonlyArray<number>) => {
          const rest = [...before]
          return now.filter((t) => {
            const i = rest.indexOf(t)
            if (i < 0) return true
            rest.splice(i, 1)
            return false
          })
        }
        let fresh = added([...(yield* TestClock.sleeps())])
        for (let i = 0; fresh.length === 0; i++) {
          if (i > 2000) throw new Error("the backoff never slept")
          yield* liveSleep("5 millis")
          fresh = added([...(yield* TestClock.sleeps())])
        }
        expect(fresh.length).toBe(1)
        const delay = (fresh[0] ?? 0) - (yield* TestClock.currentTimeMillis)
        yield* TestClock.adjust(delay)
        yield* conn.next("Open")
        return delay
      })
      const first = yield* drop
      const second = yield* drop
      yield* TestClock.adjust("61 seconds")
      const afterLiving = yield* drop
      expect([first, second, afterLiving].map((d) => [d >= 5_000 && d <= 10_000, d >= 10_000 && d <= 20_000])).toEqual([
        [true, first === 10_000],
        [second === 10_000, true],
        [true, afterLiving === 10_000]
      ])
    })
  )

  it.scoped("a frame keeps the connection fresh; the maximum age replaces it without a backoff (test clock)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "kraken", markets: [krakenBtc] })
      const plan = planFor("kraken", [krakenBtc], fake.wsUrl)
      const conn = yield* connect({ ...plan, venue: "t-age", staleAfter: "10 seconds", maxAge: "25 seconds" })
      yield* conn.next("Open")
      yield* awaitFake(() => fake.subscribed(), "subscription")
      yield* conn.texts(3) // status, the subscribe's answer, the (empty) snapshot
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("6 seconds")
        fake.heartbeat()
        // The heartbeat is in before the clock moves on: the connection is fresh at every step.
        expect(yield* conn.texts(1)).toEqual(['{"channel":"heartbeat"}'])
      }
      yield* TestClock.adjust("1 second")
      const { event: closed, seen } = yield* conn.until("Closed")
      expect(closed.reason).toBe("max age of 25000 ms reached")
      expect(seen.some((e) => e._tag === "Closed" && e !== closed)).toBe(false)
      expect((yield* conn.next("Open")).connection).toBe(2)
    })
  )

  it.scopedLive("binance's serverShutdown: the frame passes, then the connection is replaced at once", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "binance", markets: [btcUsdt] })
      const conn = yield* connect({ ...planFor("binance", [btcUsdt], fake.wsUrl), venue: "t-shutdown" })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      fake.shutdown()
      const { event, seen } = yield* conn.until("Closed")
      expect(event.reason).toBe("serverShutdown")
      expect(seen.some((e) => e._tag === "Frame" && decodeBinanceFrame(e.text)._tag === "ServerShutdown")).toBe(true)
      expect((yield* conn.next("Open")).connection).toBe(2)
    })
  )

  it.scopedLive("a venue that is down: a Closed event per attempt, retried, never a failure", () =>
    Effect.gen(function* () {
      // A port that was just free: a fake venue started and stopped.
      const gone = yield* Effect.promise(() => startFakeVenue({ venue: "coinbase", markets: [coinbaseBtc] }))
      const url = gone.wsUrl
      yield* Effect.promise(() => gone.close())
      const conn = yield* connect({ ...planFor("coinbase", [coinbaseBtc], url), ...fast, venue: "t-down" })
      for (let i = 0; i < 3; i++) expect((yield* conn.next("Closed")).reason).toMatch(/^error: .*ECONNREFUSED/)
      expect(conn.all.every((e) => e._tag === "Closed")).toBe(true)
      const bad = yield* connect({ venue: "t-bad-url", url: "not a url", ...fast })
      expect((yield* bad.next("Closed")).reason).toMatch(/^cannot connect to not a url/)
      yield* bad.next("Closed")
    })
  )

  it.scopedLive("a slow consumer with a small buffer still gets every frame, in order", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "binance", markets: [btcUsdt] })
      const conn = yield* connect({ ...planFor("binance", [btcUsdt], fake.wsUrl), venue: "t-slow", buffer: 4 })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      const sent = fake.send(btcUsdt, 1000)
      // The trades come with an open kline now and then: read up to the padding, which ends every read of 50.
      for (let i = 0; i < 50; i++) fake.raw('"pad"')
      const ids: Array<number> = []
      let padded = false
      while (!padded) {
        for (const t of yield* conn.texts(50)) {
          const f = decodeBinanceFrame(t)
          padded ||= t === '"pad"'
          if (f._tag === "AggTrade") ids.push(f.trade.tradeId)
          else if (f._tag !== "Kline" && !padded) ids.push(-1)
        }
        yield* liveSleep("1 millis")
      }
      expect(ids).toEqual(sent.map((t) => t.tradeId))
      expect(yield* counter(pausedCounter("t-slow"))).toBeGreaterThan(0)
      expect(conn.all.filter((e) => e._tag !== "Frame").map((e) => e._tag)).toEqual(["Open"])
    })
  )

  it.scopedLive("interrupting the stream closes the socket", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const venue = "t-interrupt"
      yield* frames({ ...planFor("coinbase", [coinbaseBtc], fake.wsUrl), venue }).pipe(Stream.take(2), Stream.runDrain)
      yield* eventually(() => fake.connections() === 0, "the socket closed")
      expect(yield* gauge(connectedGauge(venue))).toBe(0)
    })
  )

  it.scopedLive("an application-level request the venue expects an answer to is answered (reply)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeVenue({ venue: "kraken", markets: [krakenBtc] })
      const reply = (text: string) => (text.includes('"ping"') ? text.replace('"ping"', '"pong"') : undefined)
      const conn = yield* connect({ ...planFor("kraken", [krakenBtc], fake.wsUrl), venue: "t-reply", reply })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      fake.raw('{"method":"ping","req_id":7}')
      yield* awaitFake(() => fake.receivedCount(2), "the answer")
      expect(fake.received[1]).toBe('{"method":"pong","req_id":7}')
      expect(yield* conn.texts(4)).toContain('{"method":"ping","req_id":7}')
    })
  )

  it("backoffDelay: base doubling per attempt up to the cap, of which at least half", () => {
    const full = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    full.forEach((d, attempt) => {
      expect(backoffDelay(attempt, 500, 30_000, 0)).toBe(d / 2)
      expect(backoffDelay(attempt, 500, 30_000, 0.999999)).toBe(d)
      expect(backoffDelay(attempt, 500, 30_000, 0.5)).toBe(d * 0.75)
    })
    expect(backoffDelay(10_000, 500, 30_000, 0.5)).toBe(22_500)
  })
})
