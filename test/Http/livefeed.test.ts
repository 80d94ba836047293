import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock } from "effect"
import { Tick } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"
import { onFailingCache, onMemoryCache, recorder, settle } from "./livefeed-support.js"

// The live feed's broadcaster on its own, on the embedded cache (and, for a lost subscription, a cache whose update
// stream the test fails), with clients that record what is written to them.

const tick = (symbol: string, price: number): Update => ({
  _tag: "tick",
  tick: new Tick({
    symbol,
    coinId: symbol.toLowerCase(),
    price,
    eventTime: 1_700_000_000_000,
    source: "simulator",
    ingestTime: 1_700_000_000_000
  })
})

const setup = onMemoryCache()

describe("LiveFeed", () => {
  it.scoped(
    "writes each batch once per client, the same bytes to every unfiltered client, and only the wanted symbols to a filtered one",
    () =>
      Effect.gen(function* () {
        const { feed, send } = yield* setup
        const a = recorder()
        const b = recorder()
        const eth = recorder(["ETH"])
        for (const r of [a, b, eth]) yield* feed.attach(r.client, {})
        expect(yield* feed.clients).toBe(3)

        yield* send(tick("BTC", 1), tick("ETH", 2), tick("SOL", 3))
        // the attach write (status), then the batch as one write
        expect(a.writes).toHaveLength(2)
        expect(b.writes[1]).toBe(a.writes[1])
        expect(a.events().map((e) => e.event)).toEqual(["status", "tick", "tick", "tick"])
        expect(a.ids()).toEqual([1, 2, 3])
        expect(a.text()).toContain(`id: 1\nevent: tick\ndata: {"symbol":"BTC",`)
        expect(
          eth
            .events()
            .filter((e) => e.event === "tick")
            .map((e) => e.data["symbol"])
        ).toEqual(["ETH"])
        expect(eth.ids()).toEqual([2])

        // a batch with nothing it wants writes nothing to it
        yield* send(tick("BTC", 4))
        expect(eth.writes).toHaveLength(2)
        expect(a.ids()).toEqual([1, 2, 3, 4])
      })
  )

  it.scoped(
    "starts with the prefix and the status, then replays what followed Last-Event-ID (filtered), then live events",
    () =>
      Effect.gen(function* () {
        const { feed, send } = yield* setup
        yield* send(tick("BTC", 1), tick("ETH", 2), tick("BTC", 3), tick("ETH", 4))
        const all = recorder()
        const eth = recorder(["eth".toUpperCase()])
        const prefix = new TextEncoder().encode(": connected\nretry: 3000\n\n")
        yield* feed.attach(all.client, { lastEventId: "1", prefix })
        yield* feed.attach(eth.client, { lastEventId: String(2) })
        expect(all.writes).toHaveLength(1)
        expect(all.text()).toMatch(/^: connected\nretry: 3000\n\nevent: status\ndata: \{"cache":"up"\}\n\nid: 2\n/)
        expect(all.ids()).toEqual([2, 3, 4])
        expect(eth.ids()).toEqual([4])

        yield* send(tick("ETH", 5))
        expect(all.ids()).toEqual([2, 3, 4, 5])
        expect(eth.ids()).toEqual([4, 5])
      })
  )

  it.scoped("sends each event once to a client that attaches with Last-Event-ID while a batch is still pending", () =>
    Effect.gen(function* () {
      const { feed, write, send } = yield* setup
      yield* send(tick("BTC", 1), tick("ETH", 2))
      yield* write(tick("BTC", 3), tick("ETH", 4))
      yield* Effect.repeatN(Effect.yieldNow(), 20) // taken by the feed, not flushed yet
      const c = recorder()
      yield* feed.attach(c.client, { lastEventId: String(1) })
      expect(c.ids()).toEqual([2])
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      expect(c.ids()).toEqual([2, 3, 4])
    })
  )

  it.scoped("sends one heartbeat comment to every client every 15 seconds", () =>
    Effect.gen(function* () {
      const { feed } = yield* setup
      const a = recorder()
      const b = recorder(["BTC"])
      yield* feed.attach(a.client, {})
      yield* feed.attach(b.client, {})
      yield* TestClock.adjust("14 seconds")
      expect(a.text()).not.toContain(": ping")
      yield* TestClock.adjust("1 second")
      expect(a.text().match(/^: ping$/gm)).toHaveLength(1)
      expect(b.text().match(/^: ping$/gm)).toHaveLength(1)
      yield* TestClock.adjust("15 seconds")
      expect(a.text().match(/^: ping$/gm)).toHaveLength(2)
    })
  )

  it.scoped("tells every client when the cache subscription is lost and when updates flow again", () =>
    Effect.gen(function* () {
      const { feed, input, send } = yield* onFailingCache
      const a = recorder(["BTC"])
      yield* feed.attach(a.client, {})
      yield* input.offer("fail")
      yield* settle
      expect(yield* feed.cacheUp).toBe(false)
      expect(a.events().map((e) => e.data)).toEqual([{ cache: "up" }, { cache: "down" }])
      // a client arriving now hears it too
      const late = recorder()
      yield* feed.attach(late.client, {})
      expect(late.events()[0]?.data).toEqual({ cache: "down" })

      yield* TestClock.adjust("1 second") // the resubscription's backoff
      yield* send(tick("BTC", 1))
      expect(yield* feed.cacheUp).toBe(true)
      expect(a.events().map((e) => (e.event === "status" ? e.data : e.data["symbol"]))).toEqual([
        { cache: "up" },
        { cache: "down" },
        { cache: "up" },
        "BTC"
      ])
      // status events have no id; ids stay increasing
      expect(a.ids()).toEqual([...a.ids()].sort((x, y) => x - y))
    })
  )

  it.scoped("stops writing to a client once its scope closes, and `closed` resolves when the feed closes", () =>
    Effect.gen(function* () {
      const { feed, send } = yield* setup
      const a = recorder()
      const b = recorder()
      const scope = yield* Scope.make()
      yield* feed.attach(a.client, {}).pipe(Scope.extend(scope))
      yield* feed.attach(b.client, {})
      yield* Scope.close(scope, Exit.void)
      yield* send(tick("BTC", 1))
      expect(a.ids()).toEqual([])
      expect(b.ids()).toEqual([1])

      const waiting = yield* Effect.fork(feed.closed)
      yield* settle
      expect(waiting.unsafePoll()).toBeNull()
      yield* feed.close
      yield* Fiber.join(waiting)
      yield* send(tick("BTC", 2))
      expect(b.ids()).toEqual([1])
    })
  )
})
