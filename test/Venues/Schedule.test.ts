import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, FastCheck as fc, Stream } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { marketOfEvent } from "../../src/Venues/GapFill.js"
import * as Recording from "../../src/Venues/Recording.js"
import { replay } from "../../src/Venues/Replay.js"
import { stream, type VenueEvent } from "../../src/Venues/Source.js"
import { type FakeVenue, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"
import { tradeIds, waitFor } from "../support/VenueRun.js"

// The composed source (Source.stream: Connection, decoders, continuity, gap-fill) against the fake venue under a
// random schedule of disconnects, fillable and lost ranges, resent and reordered frames and heartbeats (seeded and
// bounded). After it, each market's trades are the fake's own list, once each in id order, and the gap records
// cover exactly the lost ids. The run is recorded (Recording.ts) and the recording replayed: the same events.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("schedule seed", seed)

const marketsOf: Record<FakeVenueName, ReadonlyArray<Market>> = {
  binance: ["binance:BTC-USDT" as Market, "binance:ETH-USDT" as Market],
  coinbase: ["coinbase:BTC-USD" as Market, "coinbase:ETH-USD" as Market],
  kraken: ["kraken:BTC-USD" as Market, "kraken:ETH-USD" as Market]
}

type Op =
  | { readonly _tag: "send" | "gap" | "lose"; readonly market: 0 | 1; readonly n: number }
  | { readonly _tag: "duplicate" | "reorder"; readonly n: number }
  | { readonly _tag: "disconnect" | "heartbeat" }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("send" as const),
      market: fc.constantFrom(0 as const, 1 as const),
      n: fc.integer({ min: 1, max: 6 })
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("gap" as const),
      market: fc.constantFrom(0 as const, 1 as const),
      n: fc.integer({ min: 1, max: 40 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("lose" as const),
      market: fc.constantFrom(0 as const, 1 as const),
      n: fc.integer({ min: 1, max: 4 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constantFrom("duplicate" as const, "reorder" as const),
      n: fc.integer({ min: 1, max: 4 })
    })
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constantFrom("disconnect" as const, "heartbeat" as const) }) }
)

/** Ranges [from, to] as a sorted list with adjacent ones joined. */
const merged = (ranges: ReadonlyArray<readonly [number, number]>) => {
  const out: Array<[number, number]> = []
  for (const [from, to] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1]
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to)
    else out.push([from, to])
  }
  return out
}

let fakes: Array<FakeVenue> = []
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.close()))
  fakes = []
})

const byMarket = (events: ReadonlyArray<VenueEvent>) => {
  const out: Record<string, Array<unknown>> = {}
  for (const e of events) {
    const m = marketOfEvent(e)
    out[m] = [...(out[m] ?? []), JSON.parse(JSON.stringify(e)) as unknown]
  }
  return out
}

const runs = (["binance", "coinbase", "kraken"] as const).flatMap((venue) => [0, 1, 2].map((k) => [venue, k] as const))

describe.each(runs)("Source %s under random schedule %i", (venue, k) => {
  const markets = marketsOf[venue]
  it.live("every trade once in id order, gaps exactly where ids were lost, and the recording replays the same", () =>
    Effect.gen(function* () {
      const ops =
        fc.sample(fc.array(opArb, { minLength: 10, maxLength: 30 }), {
          seed: seed + 7 * k + venue.length,
          numRuns: 1
        })[0] ?? []
      const fake = yield* Effect.promise(() => startFakeVenue({ venue, markets }))
      fakes.push(fake)
      const dir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "schedule-")))
      const events: Array<VenueEvent> = []
      const source = stream({
        venue,
        markets,
        wsUrl: fake.wsUrl,
        restUrl: fake.restUrl,
        limits: { minSpacing: 0, retryWait: "5 millis" },
        connection: { backoff: { base: "5 millis", cap: "20 millis" } }
      })
      const fiber = yield* source.pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.provide(Recording.layer(dir)),
        Effect.fork
      )
      yield* Effect.promise(() => fake.subscribed())
      const next = markets.map(() => 1000)
      const lost: Array<Array<[number, number]>> = markets.map(() => [])
      for (const [i, m] of markets.entries()) {
        fake.send(m, 1)
        next[i] = 1001
      }
      yield* waitFor(() => markets.every((m) => tradeIds(events, m).length > 0), "the first trades")
      for (const op of ops) {
        if (op._tag === "send" || op._tag === "gap" || op._tag === "lose") {
          const m = markets[op.market] as Market
          const from = next[op.market] ?? 0
          if (op._tag === "send") fake.send(m, op.n)
          else if (op._tag === "gap") fake.gap(m, op.n)
          else {
            fake.lose(m, op.n)
            lost[op.market]?.push([from, from + op.n - 1])
          }
          next[op.market] = from + op.n
        } else if (op._tag === "duplicate") fake.duplicate(op.n)
        else if (op._tag === "reorder") fake.reorder(op.n)
        else if (op._tag === "disconnect") fake.disconnect()
        else fake.heartbeat()
        yield* Effect.sleep("2 millis")
      }
      // A last trade per market shows whatever is still missing; sent again until one gets through.
      for (let round = 0; round < 50; round++) {
        for (const [i, m] of markets.entries()) {
          fake.send(m, 1)
          next[i] = (next[i] ?? 0) + 1
        }
        const done = yield* Effect.either(
          waitFor(
            () => markets.every((m, i) => tradeIds(events, m).at(-1) === (next[i] ?? 0) - 1),
            "the last trades",
            300
          )
        )
        if (done._tag === "Right") break
      }
      yield* Fiber.interrupt(fiber)
      for (const [i, m] of markets.entries()) {
        expect(tradeIds(events, m), `${m} (seed ${seed})`).toEqual(fake.trades(m).map((t) => t.tradeId))
        const gaps = events.flatMap((e) =>
          e._tag === "Gap" && e.gap.market === m ? [[e.gap.fromId, e.gap.toId] as const] : []
        )
        expect(merged(gaps), `${m} gaps (seed ${seed})`).toEqual(merged(lost[i] ?? []))
        expect(events.every((e) => e._tag !== "Gap" || e.gap.reason === "not-served")).toBe(true)
      }
      const replayed = yield* Stream.runCollect(replay({ path: dir, markets }))
      expect(byMarket([...replayed])).toEqual(byMarket(events))
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    })
  )
})
