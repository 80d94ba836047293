import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, Queue, Stream, TestClock } from "effect"
import { type EventId, parse } from "../../src/Cache/EventId.js"
import { CacheUnavailable, type FeedItem, LatestCache } from "../../src/Cache/LatestCache.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import { make } from "../../src/Http/LiveFeed.js"
import { recorder, settle } from "./livefeed-support.js"

// The live feed on shared ids (Redis stream ids, as every api instance reads them): a client whose id another
// instance gave before this one read so far waits for it; an id the shared feed never gave resets; a resubscription
// continues after the newest id and, when the stream lost entries meanwhile, resets its clients and old resumes.

const btc = "binance:BTC-USDT" as Market
const id = (text: string) => parse(text)!

const entry = (text: string, tradeId: number): FeedItem => ({
  _tag: "entry",
  id: id(text),
  update: {
    _tag: "tick",
    tick: new Tick({
      symbol: "BTC",
      coinId: btc,
      price: 100 + tradeId,
      volume: 1,
      eventTime: 1_764_000_000_000 + tradeId,
      source: "binance",
      ingestTime: 1_764_000_000_000 + tradeId,
      market: btc,
      tradeId,
      side: "buy"
    })
  }
})

/** A cache whose feed the test writes item by item ("fail": the connection is lost); `newest` is the stream's. */
const shared = Effect.gen(function* () {
  const input = yield* Queue.unbounded<FeedItem | "fail">()
  const subscriptions: Array<string | undefined> = []
  const state = { newest: undefined as EventId | undefined }
  const cache = LatestCache.of({
    kind: "redis",
    write: () => Effect.void,
    getAll: Effect.succeed([]),
    get: () => Effect.die("unused"),
    updates: (after) => {
      subscriptions.push(after?.text)
      return Stream.fromQueue(input).pipe(
        Stream.mapEffect((x) =>
          x === "fail" ? Effect.fail(new CacheUnavailable({ message: "lost" })) : Effect.succeed(x)
        )
      )
    },
    newest: Effect.sync(() => state.newest),
    isUp: Effect.succeed(true)
  })
  const feed = yield* make({ replay: 4 }).pipe(
    Effect.provideService(LatestCache, cache),
    Logger.withMinimumLogLevel(LogLevel.None)
  )
  const send = (...items: ReadonlyArray<FeedItem>) =>
    Effect.zipRight(
      Effect.sync(() => {
        for (const item of items) if (item._tag === "entry") state.newest = item.id
      }),
      Effect.zipRight(input.offerAll(items), settle)
    )
  return { feed, input, send, state, subscriptions }
})

const ticks = (c: ReturnType<typeof recorder>) =>
  c
    .events()
    .filter((e) => e.event !== "status")
    .map((e) => (e.event === "tick" ? `${e.event} ${e.data["tradeId"]}` : `${e.event} ${e.data["reason"]}`))

const idsOf = (c: ReturnType<typeof recorder>) => [...c.text().matchAll(/^id: (.+)$/gm)].map((m) => m[1])

describe("LiveFeed on shared ids", () => {
  it.scoped("an id another instance gave first: waits, then only what follows it; an id never given: reset", () =>
    Effect.gen(function* () {
      const { feed, send, state } = yield* shared
      yield* send({ _tag: "origin", after: undefined, lost: false }, entry("100-0", 1), entry("100-1", 2))
      // The stream is at 100-3 already (another instance sent it); this feed has read up to 100-1.
      state.newest = id("100-3")
      const ahead = recorder()
      yield* feed.attach(ahead.client, { lastEventId: "100-3" })
      const never = recorder()
      yield* feed.attach(never.client, { lastEventId: "100-4" })
      yield* send(entry("100-2", 3), entry("100-3", 4), entry("101-0", 5))
      expect(ticks(ahead)).toEqual(["tick 5"])
      expect(idsOf(ahead)).toEqual(["101-0"])
      expect(ticks(never)).toEqual(["reset unknown-id", "tick 3", "tick 4", "tick 5"])
      // Before the first entry this feed read, nothing is known: a reset; from it on, the missed events.
      const old = recorder()
      yield* feed.attach(old.client, { lastEventId: "99-9" })
      const first = recorder()
      yield* feed.attach(first.client, { lastEventId: "100-0" })
      expect(ticks(old)).toEqual(["reset replay-buffer"])
      expect(ticks(first)).toEqual(["tick 2", "tick 3", "tick 4", "tick 5"])
    })
  )

  it.scoped(
    "a resubscription continues after the newest id; entries lost meanwhile reset clients and old resumes",
    () =>
      Effect.gen(function* () {
        const { feed, input, send, subscriptions } = yield* shared
        yield* send({ _tag: "origin", after: undefined, lost: false }, entry("5-0", 1), entry("5-1", 2))
        const live = recorder()
        yield* feed.attach(live.client, {})
        yield* input.offer("fail")
        yield* settle
        yield* TestClock.adjust("1 second") // the resubscription's backoff
        yield* send({ _tag: "origin", after: undefined, lost: true }, entry("9-0", 3))
        expect(subscriptions).toEqual([undefined, "5-1"])
        expect(ticks(live)).toEqual(["reset replay-buffer", "tick 3"])
        const before = recorder()
        yield* feed.attach(before.client, { lastEventId: "5-1" })
        const after = recorder()
        yield* feed.attach(after.client, { lastEventId: "9-0" })
        yield* send(entry("9-1", 4))
        expect(ticks(before)).toEqual(["reset replay-buffer", "tick 4"])
        expect(ticks(after)).toEqual(["tick 4"])
      })
  )
})
