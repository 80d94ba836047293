import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"
import { onMemoryCache, type Recorded, recorder, settle } from "./livefeed-support.js"

// Resuming with Last-Event-ID on the embedded cache: within the replay buffer a client gets exactly what it missed,
// once and in order; past it, or with an id this feed never gave (the server restarted), one `reset` and then only
// live events.

const t0 = 1_764_000_000_000
const btc = "binance:BTC-USDT" as Market
const eth = "binance:ETH-USDT" as Market

const trade = (market: Market, tradeId: number): Update => ({
  _tag: "tick",
  tick: new Tick({
    symbol: market.split(":")[1]!.split("-")[0]!,
    coinId: market,
    price: 100 + tradeId,
    volume: 1,
    eventTime: t0 + tradeId,
    source: "binance",
    ingestTime: t0 + tradeId,
    market,
    tradeId,
    side: "buy"
  })
})

const replay = 10

/** Sends `n` trades (alternating markets) in batches of 3, a client reading every event from the start. */
const history = (n: number) =>
  Effect.gen(function* () {
    const rig = yield* onMemoryCache(replay)
    const all = recorder()
    yield* rig.feed.attach(all.client, {})
    for (let i = 1; i <= n; i += 3) {
      const batch = Array.from({ length: Math.min(3, n - i + 1) }, (_, k) => trade(k % 2 === 0 ? btc : eth, i + k))
      yield* rig.send(...batch)
    }
    return { ...rig, all }
  })

const resets = (events: ReadonlyArray<Recorded>) => events.filter((e) => e.event === "reset")

describe("LiveFeed resume", () => {
  it.scoped(
    "within the buffer: exactly the missed events, once, in order, then live; past it: one reset, then live",
    () =>
      Effect.gen(function* () {
        const { feed, send, all } = yield* history(40)
        const sent = all.updates()
        expect(sent.map((e) => e.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
        const newest = 40

        // Every id this feed gave, and none: each client either gets what followed its id, or a reset.
        const outcomes = []
        for (let last = 0; last <= newest; last++) {
          const c = recorder()
          yield* feed.attach(c.client, { lastEventId: String(last) })
          outcomes.push({ last, c })
        }
        yield* send(trade(btc, 41))

        let oldest: number | undefined
        for (const { last, c } of outcomes) {
          const got = c.updates()
          const reset = resets(got)
          if (reset.length > 0) {
            // one reset, before anything else, naming the buffer's oldest id, which this client's next id is before
            expect(reset, `lastEventId ${last}`).toHaveLength(1)
            expect(got[0], `lastEventId ${last}`).toEqual({ id: 0, event: "reset", data: reset[0]!.data })
            const data = reset[0]!.data as { reason: string; oldest: string }
            expect(data.reason).toBe("replay-buffer")
            expect(last + 1).toBeLessThan(Number(data.oldest))
            oldest ??= Number(data.oldest)
            expect(Number(data.oldest)).toBe(oldest) // the same buffer for every client
            // then only live events
            expect(got.slice(1).map((e) => e.id)).toEqual([41])
          } else {
            expect(
              got.map((e) => e.id),
              `lastEventId ${last}`
            ).toEqual(Array.from({ length: newest + 1 - last }, (_, i) => last + 1 + i))
            // the replayed events are the very events first sent
            expect(got.slice(0, -1)).toEqual(sent.slice(last))
          }
        }
        // The buffer keeps at least `replay` events: those ids resume; resets only below the buffer's oldest.
        expect(oldest).toBeDefined()
        expect(oldest!).toBeLessThanOrEqual(newest - replay + 1)
        for (const { last, c } of outcomes)
          expect(resets(c.updates()).length > 0, `lastEventId ${last}`).toBe(last + 1 < oldest!)
      })
  )

  it.scoped("a filtered client resuming within the buffer gets the missed events of its market only", () =>
    Effect.gen(function* () {
      const { feed, send, all } = yield* history(12)
      const expected = all
        .updates()
        .filter((e) => e.id > 5 && e.data["market"] === eth)
        .map((e) => e.id)
      const c = recorder([eth])
      yield* feed.attach(c.client, { lastEventId: String(5) })
      yield* send(trade(btc, 13), trade(eth, 14))
      expect(expected.length).toBeGreaterThan(0)
      expect(c.updates().map((e) => e.id)).toEqual([...expected, 14])
    })
  )

  it.scoped("an id newer than any this feed gave (it restarted since): one reset `unknown-id`, then live events", () =>
    Effect.gen(function* () {
      // a feed that has given nothing yet: no oldest
      const fresh = yield* onMemoryCache(replay)
      const first = recorder()
      yield* fresh.feed.attach(first.client, { lastEventId: String(5) })
      expect(first.updates()).toEqual([{ id: 0, event: "reset", data: { reason: "unknown-id", oldest: null } }])

      const { feed, send } = yield* history(6)
      for (const last of [7, 1_000_000]) {
        const c = recorder()
        yield* feed.attach(c.client, { lastEventId: String(last) })
        yield* send(trade(eth, 7 + last))
        const got = c.updates()
        expect(got[0], `lastEventId ${last}`).toEqual({
          id: 0,
          event: "reset",
          data: { reason: "unknown-id", oldest: "1" }
        })
        expect(resets(got)).toHaveLength(1)
        expect(got.slice(1).map((e) => e.event)).toEqual(["tick"])
      }
      // the newest id given is not unknown: nothing missed, nothing reset
      const c = recorder()
      yield* feed.attach(c.client, { lastEventId: "8" })
      yield* settle
      expect(c.updates()).toEqual([])
    })
  )
})
