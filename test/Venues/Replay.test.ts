import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Stream, TestClock } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { marketOfEvent, type VenueEvent } from "../../src/Venues/GapFill.js"
import { readRecording, replay, replayLines } from "../../src/Venues/Replay.js"
import { type FakeVenue, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"
import { opened, startRun, tradeIds } from "../support/VenueRun.js"

// A recording of a live run against the fake venue (frames with their receipt times, REST answers) replayed through
// the same decoders, continuity and gap-fill, REST served from the recording: the same events, in the same order.

const marketsOf: Record<FakeVenueName, ReadonlyArray<Market>> = {
  binance: ["binance:BTC-USDT" as Market, "binance:ETH-USDT" as Market],
  coinbase: ["coinbase:BTC-USD" as Market, "coinbase:ETH-USD" as Market],
  kraken: ["kraken:BTC-USD" as Market, "kraken:ETH-USD" as Market]
}

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})

/** Each market's events, as JSON: the order across markets is not kept (each market has its own worker). */
const plain = (events: ReadonlyArray<VenueEvent>) => {
  const byMarket: Record<string, Array<unknown>> = {}
  for (const e of events) {
    const market = marketOfEvent(e)
    byMarket[market] = [...(byMarket[market] ?? []), JSON.parse(JSON.stringify(e)) as unknown]
  }
  return byMarket
}

describe.each(["binance", "coinbase", "kraken"] as const)("Replay %s", (venue) => {
  const [a, b] = marketsOf[venue] as [Market, Market]

  it.live("a recording replays to the events of the live run", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.promise(() => startFakeVenue({ venue, markets: [a, b] }))
      fakes.push(fake)
      const run = yield* startRun(fake, [a, b])
      yield* opened(run, venue, 1)
      fake.send(a, 3)
      fake.gap(a, 3)
      fake.send(b, 2)
      fake.send(a, 1)
      fake.lose(b, 2)
      fake.rateLimit({ status: 429 })
      fake.send(b, 2)
      fake.duplicate(2)
      fake.raw("{not json")
      fake.disconnect()
      fake.gap(a, 2)
      yield* opened(run, venue, 2)
      fake.send(a, 1)
      yield* run.until((es) => tradeIds(es, a).at(-1) === 1009 && tradeIds(es, b).at(-1) === 1005, "the last trades")
      yield* run.stop
      expect(tradeIds(run.events, a)).toEqual(fake.trades(a).map((t) => t.tradeId))
      expect(run.lines.some((l) => l.kind === "rest" && l.status === 429)).toBe(true)

      const replayed = yield* Stream.runCollect(replayLines(venue, run.lines, { markets: [a, b] }))
      expect(plain([...replayed])).toEqual(plain(run.events))

      // The same through a file, as SOURCE=replay:<dir> reads it.
      const dir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "replay-")))
      const file = Path.join(dir, `${venue}.jsonl`)
      yield* Effect.promise(() => Fs.writeFile(file, run.lines.map((l) => `${JSON.stringify(l)}\n`).join("")))
      const fromDir = yield* Stream.runCollect(
        replay({ path: dir, markets: [...marketsOf.binance, a, b], speed: 1000 })
      )
      expect(plain([...fromDir])).toEqual(plain(run.events))
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    })
  )
})

describe("Replay files", () => {
  it.effect("a line that is not a recording line is an error naming the file and line", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "replay-")))
      const file = Path.join(dir, "kraken.jsonl")
      yield* Effect.promise(() => Fs.writeFile(file, '{"at":1,"kind":"frame","text":"{}"}\n{"at":"x"}\n'))
      const read = yield* Effect.either(readRecording(file))
      expect(Either.isLeft(read) && read.left.message).toMatch(/kraken\.jsonl:2: /)
      const none = yield* Effect.either(Stream.runCollect(replay({ path: Path.join(dir, "nope"), markets: [] })))
      expect(Either.isLeft(none)).toBe(true)
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    })
  )
})

describe("Replay pace", () => {
  const frame = (id: number) =>
    JSON.stringify({
      e: "aggTrade",
      E: 1,
      s: "BTCUSDT",
      a: id,
      p: "1.5",
      q: "2",
      f: id,
      l: id,
      T: 1704067200000 + id,
      m: false
    })
  const lines = [0, 1000, 3000].map((at, i) => ({
    at: 1704067200000 + at,
    kind: "frame" as const,
    text: frame(100 + i)
  }))

  it.effect("plays at the recorded pace times the speed (TestClock), and as fast as it goes without one", () =>
    Effect.gen(function* () {
      const markets = ["binance:BTC-USDT" as Market]
      const seen: Array<number> = []
      const fiber = yield* replayLines("binance", lines, { markets, speed: 2 }).pipe(
        Stream.runForEach((e) => Effect.sync(() => e._tag === "Trade" && seen.push(e.trade.tradeId))),
        Effect.fork
      )
      const counts: Array<number> = []
      for (const step of [0, 499, 1, 999, 1]) {
        yield* TestClock.adjust(step)
        yield* Effect.yieldNow({ priority: 1 })
        for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
        counts.push(seen.length)
      }
      yield* Fiber.join(fiber)
      expect(counts).toEqual([1, 1, 2, 2, 3])
      const fast = yield* Stream.runCollect(replayLines("binance", lines, { markets }))
      expect([...fast].map((e) => (e._tag === "Trade" ? e.trade.tradeId : -1))).toEqual([100, 101, 102])
    })
  )
})
