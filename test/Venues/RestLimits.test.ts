import { NodeHttpClient } from "@effect/platform-node"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { type FillEvent, fill } from "../../src/Venues/GapFill.js"
import { httpTransport, makeClient, type RestAnswer, type RestLimits, type TradeVenue } from "../../src/Venues/Rest.js"
import { type FakeVenue, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"

// The REST client's limits on the TestClock: the fake venue answers over loopback, the waits between requests are
// the client's own sleeps, and the test moves the clock on while the fill runs. Times asserted are clock times.

const btc: Record<FakeVenueName, Market> = {
  binance: "binance:BTC-USDT" as Market,
  coinbase: "coinbase:BTC-USD" as Market,
  kraken: "kraken:BTC-USD" as Market
}
const start = Date.UTC(2024, 0, 1)

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})

const realPause = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))

/** Runs `effect` while moving the TestClock on in steps, until it is done. */
const driven = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* TestClock.adjust("250 millis")
      yield* realPause
    }
    return yield* Fiber.join(fiber)
  })

const setup = (venue: TradeVenue, limits: Partial<RestLimits>) =>
  Effect.gen(function* () {
    const fake = yield* Effect.promise(() => startFakeVenue({ venue, markets: [btc[venue]], startTime: start }))
    fakes.push(fake)
    const answers: Array<RestAnswer> = []
    const transport = yield* httpTransport(fake.restUrl, "1 hour")
    const client = yield* makeClient({ venue, transport, limits, record: (a) => Effect.sync(() => answers.push(a)) })
    const events: Array<FillEvent> = []
    const run = (fromId: number, toId: number) =>
      fill(
        client,
        {
          market: btc[venue],
          fromId,
          toId,
          before: { id: fromId - 1, time: start },
          afterTime: start + 1e6,
          detectedAt: 0
        },
        (es) => Effect.sync(() => events.push(...es))
      )
    return { fake, answers, events, run }
  })

const ids = (events: ReadonlyArray<FillEvent>) =>
  events.map((e) => (e._tag === "Trade" ? e.trade.tradeId : [e.gap.fromId, e.gap.toId, e.gap.reason]))

describe("REST limits", () => {
  it.effect("429 and 418 with Retry-After are waited out, then the page is fetched", () =>
    Effect.gen(function* () {
      const t = yield* setup("binance", { minSpacing: 0, maxRetryAfter: "1 minute", retryWait: "1 second" })
      t.fake.gap(btc.binance, 5)
      t.fake.rateLimit({ status: 429, retryAfter: 3 })
      t.fake.rateLimit({ status: 418, retryAfter: 5 })
      yield* driven(t.run(1000, 1004))
      expect(t.fake.requests.map((r) => r.status)).toEqual([429, 418, 200])
      const [a, b, c] = t.answers.map((x) => x.at) as [number, number, number]
      expect(b - a).toBeGreaterThanOrEqual(3000)
      expect(c - b).toBeGreaterThanOrEqual(5000)
      expect(ids(t.events)).toEqual([1000, 1001, 1002, 1003, 1004])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect("a ban longer than the cap fails the fill as a rate-limited gap, and holds the next fill off REST", () =>
    Effect.gen(function* () {
      const t = yield* setup("binance", { minSpacing: 0, maxRetryAfter: "1 minute" })
      t.fake.gap(btc.binance, 5)
      t.fake.rateLimit({ status: 418, retryAfter: 120 })
      yield* driven(t.run(1000, 1002))
      expect(ids(t.events)).toEqual([[1000, 1002, "rate-limited"]])
      yield* driven(t.run(1003, 1004))
      expect(t.fake.requests.map((r) => r.status)).toEqual([418])
      expect(ids(t.events)).toEqual([
        [1000, 1002, "rate-limited"],
        [1003, 1004, "rate-limited"]
      ])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect("refusals past the attempts become a rate-limited gap for the rest of the range", () =>
    Effect.gen(function* () {
      const t = yield* setup("coinbase", { minSpacing: 0, retryWait: "1 second", maxAttempts: 3 })
      t.fake.gap(btc.coinbase, 3)
      t.fake.rateLimit({ status: 429, times: 3 })
      yield* driven(t.run(1000, 1002))
      expect(t.fake.requests.map((r) => r.status)).toEqual([429, 429, 429])
      expect(ids(t.events)).toEqual([[1000, 1002, "rate-limited"]])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect("Kraken: pages at least the minimum spacing apart, a 429 waited out", () =>
    Effect.gen(function* () {
      const t = yield* setup("kraken", { minSpacing: "1100 millis", retryWait: "2 seconds" })
      t.fake.gap(btc.kraken, 2500)
      t.fake.rateLimit({ status: 429 })
      yield* driven(t.run(1000, 3499))
      expect(t.fake.requests.map((r) => r.status)).toEqual([429, 200, 200, 200])
      const at = t.answers.map((x) => x.at)
      for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBeGreaterThanOrEqual(1100)
      expect(ids(t.events)).toEqual(Array.from({ length: 2500 }, (_, i) => 1000 + i))
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect("a budget: ids past it become a too-large gap", () =>
    Effect.gen(function* () {
      const t = yield* setup("binance", { minSpacing: 0 })
      t.fake.gap(btc.binance, 30)
      const events: Array<FillEvent> = []
      const transport = yield* httpTransport(t.fake.restUrl, "1 hour")
      const client = yield* makeClient({ venue: "binance", transport, limits: { minSpacing: 0 } })
      const request = {
        market: btc.binance,
        fromId: 1000,
        toId: 1029,
        before: { id: 999, time: start },
        afterTime: 0,
        detectedAt: 0
      }
      yield* driven(fill(client, request, (es) => Effect.sync(() => events.push(...es)), { maxPages: 5, maxIds: 20 }))
      expect(ids(events)).toEqual([...Array.from({ length: 20 }, (_, i) => 1000 + i), [1020, 1029, "too-large"]])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})
