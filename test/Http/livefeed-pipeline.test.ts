import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Logger, LogLevel } from "effect"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import type { Market } from "../../src/Domain/Market.js"
import * as Operator from "../../src/Domain/Operator.js"
import { Tick } from "../../src/Domain/Tick.js"
import { make } from "../../src/Http/LiveFeed.js"
import * as CacheWriter from "../../src/Processor/CacheWriter.js"
import type { CandleRow } from "../../src/Store/Store.js"
import {
  candleDifferences,
  type ReferenceCandle,
  referenceCandles,
  referenceIntervals,
  type StoredCandle
} from "../support/Reference.js"
import { type Recorded, recorder, settle } from "./livefeed-support.js"

// The live feed behind the processor's own fast path: the operator over random batches of reordered trades (each
// within the lateness, so late trades revise candles already sent), the cache writer (which coalesces what waits for
// it), the embedded cache, then a restart from a checkpoint that replays the batches after it. Against the tests'
// reference candles (test/support/Reference.ts): every candle's last event has its values; a candle whose bucket the
// watermark passed has exactly one `final` event and nothing after it; the others have none.

// Failures also print fast-check's own seed and path; PROPERTY_SEED=<n> replays a run.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 25 } }

const t0 = Date.UTC(2026, 11, 1)
const lateness = 120_000
const markets = ["binance:BTC-USDT" as Market, "coinbase:ETH-USD" as Market]

/** Trades per market (1–40 s apart, unique times), delivered reordered by less than half the lateness, in batches. */
const runArb = fc
  .array(
    fc.record({
      market: fc.integer({ min: 0, max: markets.length - 1 }),
      gap: fc.integer({ min: 1, max: 40_000 }),
      jitter: fc.integer({ min: 0, max: lateness / 2 - 1 }),
      price: fc.integer({ min: 1, max: 100_000 }),
      volume: fc.integer({ min: 1, max: 1_000 })
    }),
    { minLength: 30, maxLength: 120 }
  )
  .chain((rows) =>
    fc.record({
      rows: fc.constant(rows),
      sizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 120, maxLength: 120 }),
      // after which batches the writer and the feed get to run (elsewhere their work piles up and is coalesced)
      pauses: fc.array(fc.boolean(), { minLength: 120, maxLength: 120 }),
      checkpoint: fc.nat()
    })
  )
  .map(({ rows, sizes, pauses, checkpoint }) => {
    const clock = new Map<number, number>()
    const trades = rows.map((r, i) => {
      const eventTime = t0 + (clock.get(r.market) ?? 0) + r.gap
      clock.set(r.market, eventTime - t0)
      const market = markets[r.market]!
      const tick = new Tick({
        symbol: market.split(":")[1]!.split("-")[0]!,
        coinId: market,
        price: r.price / 100,
        volume: r.volume / 100,
        eventTime,
        source: market.split(":")[0] as "binance" | "coinbase",
        ingestTime: eventTime,
        market,
        tradeId: i + 1,
        side: "buy"
      })
      return { tick, key: eventTime + r.jitter }
    })
    const delivered = [...trades].sort((a, b) => a.key - b.key).map((t) => t.tick)
    const batches: Array<Array<Tick>> = []
    for (let i = 0, b = 0; i < delivered.length; b++) {
      batches.push(delivered.slice(i, i + sizes[b]!))
      i += sizes[b]!
    }
    return { trades: trades.map((t) => t.tick), batches, pauses, checkpoint: checkpoint % (batches.length + 1) }
  })

/** The reference candles, and which of them the watermark (newest trade time − lateness) has passed. */
const expected = (trades: ReadonlyArray<Tick>) => {
  const reference = referenceCandles(trades)
  const newest = new Map<string, number>()
  for (const t of trades) newest.set(t.market!, Math.max(newest.get(t.market!) ?? 0, t.eventTime))
  const width = new Map(referenceIntervals)
  const final = (c: ReferenceCandle) => c.bucketStart + width.get(c.interval)! <= newest.get(c.market!)! - lateness
  return { reference, final }
}

const keyOf = (e: Recorded) => JSON.stringify([e.data["market"], e.data["interval"], e.data["bucketStart"]])

/** Each candle's events in order, by market, interval and bucket. */
const byCandle = (events: ReadonlyArray<Recorded>) => {
  const out = new Map<string, Array<Recorded>>()
  for (const e of events) {
    if (e.event !== "candle" && e.event !== "final") continue
    const list = out.get(keyOf(e)) ?? []
    list.push(e)
    out.set(keyOf(e), list)
  }
  return out
}

describe("LiveFeed behind the processor's fast path", () => {
  it.effect.prop(
    "each candle's last event has the reference values; a closed one has one `final`, nothing after it, replay or not",
    [runArb],
    ([{ trades, batches, pauses, checkpoint }]) =>
      Effect.scoped(
        Effect.gen(function* () {
          const cache = yield* MemoryCache.make("1 minute")
          const feed = yield* make().pipe(
            Effect.provideService(LatestCache, cache),
            Logger.withMinimumLogLevel(LogLevel.None)
          )
          const writer = yield* CacheWriter.make.pipe(Effect.provideService(LatestCache, cache))
          yield* settle
          const client = recorder()
          yield* feed.attach(client.client, {})

          // One consumer batch as Consume does it: accept each tick, then the changed candles once, then the writer.
          const process = (state: Operator.OperatorState, batch: ReadonlyArray<Tick>, pause: boolean) =>
            Effect.gen(function* () {
              const changes = Operator.emptyChanges()
              const accepted = batch.filter((t) => Operator.accept(state, t, lateness, changes)._tag === "Accepted")
              expect(accepted).toHaveLength(batch.length) // none late: the reordering is within the lateness
              const touched = new Map<string, CandleRow>()
              for (const c of Operator.collect(state, changes))
                touched.set(c.key, { candle: c.candle, indicators: c.indicators })
              yield* writer.offer(accepted, touched)
              if (pause) yield* settle
            })

          const state = Operator.emptyState()
          let snapshot: unknown = JSON.parse(Operator.encodeState(state))
          for (const [i, batch] of batches.entries()) {
            yield* process(state, batch, pauses[i]!)
            if (i + 1 === checkpoint) snapshot = JSON.parse(Operator.encodeState(state))
          }
          // A restart: the state of the checkpoint, and every batch after it again.
          const restored = yield* Operator.decodeState(snapshot)
          for (const [i, batch] of batches.slice(checkpoint).entries()) yield* process(restored, batch, pauses[i]!)

          // Everything handed over within the runtime: a bounded number of turns, not a time.
          const { reference, final } = expected(trades)
          const lastOf = () =>
            [...byCandle(client.events()).values()].map((list) => list.at(-1)!.data as unknown as StoredCandle)
          for (let turn = 0; turn < 50 && candleDifferences(lastOf(), reference).length > 0; turn++) yield* settle
          yield* settle

          const events = client.events()
          // Increasing ids (an id is its update's place in the feed: a repeat sent to no one leaves a hole).
          const ids = events.map((e) => e.id).filter((id) => id > 0)
          expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true)
          expect(candleDifferences(lastOf(), reference)).toEqual([])
          const perCandle = byCandle(events)
          for (const c of reference.values()) {
            const list = perCandle.get(JSON.stringify([c.market, c.interval, c.bucketStart]))!
            const finals = list.filter((e) => e.event === "final")
            const where = `${c.market} ${c.interval} ${c.bucketStart - t0}`
            expect(finals, where).toHaveLength(final(c) ? 1 : 0)
            if (finals.length > 0) expect(list.at(-1), `${where}: nothing after its final`).toBe(finals[0])
            for (const e of list) expect(e.data["status"], where).toBe(e.event === "final" ? "final" : "provisional")
          }
        })
      ),
    // a bound for a loaded machine, not a timing: a run takes well under a second
    { ...params, timeout: 120_000 }
  )
})
