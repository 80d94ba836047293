import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Queue, Stream } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import type { VenueEvent } from "../../src/Venues/GapFill.js"
import { type FrameInput, fromFrames } from "../../src/Venues/Pipeline.js"
import { makeClient, type Transport } from "../../src/Venues/Rest.js"

// The pipeline alone, frames from a queue and REST from a function: a fill held open while live trades pile up past
// the market's buffer. The ones dropped leave a jump that is filled in turn; the market's output stays every id once
// in order, and the other market is not held up by the fill.

const btc = "binance:BTC-USDT" as Market
const eth = "binance:ETH-USDT" as Market
const t0 = 1704067200000

const row = (id: number) => ({ a: id, p: "10.5", q: "0.25", f: id, l: id, T: t0 + id, m: id % 2 === 0 })
const frame = (symbol: string, id: number): FrameInput => ({
  _tag: "Frame",
  at: t0 + id,
  text: JSON.stringify({ e: "aggTrade", E: t0 + id, s: symbol, ...row(id) })
})

const idsOf = (events: ReadonlyArray<VenueEvent>, market: Market) =>
  events.flatMap((e) => (e._tag === "Trade" && e.trade.market === market ? [e.trade.tradeId] : []))

describe("Pipeline", () => {
  it.effect("a fill held open: live trades past the buffer are dropped, then filled; other markets go on", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const calls: Array<string> = []
      // aggTrades?fromId=&limit= over ids 1..40; the first call waits for `release`.
      const transport: Transport = (url) =>
        Effect.gen(function* () {
          calls.push(url)
          if (calls.length === 1) yield* Deferred.await(release)
          const q = new URL(url, "http://x").searchParams
          const from = Number(q.get("fromId"))
          const limit = Number(q.get("limit"))
          const rows = Array.from({ length: limit }, (_, i) => from + i)
            .filter((id) => id <= 40)
            .map(row)
          return { at: t0, url, status: 200, text: JSON.stringify(rows), retryAfter: undefined }
        })
      const rest = yield* makeClient({ venue: "binance", transport, limits: { minSpacing: 0 } })
      const frames = yield* Queue.unbounded<FrameInput>()
      const events: Array<VenueEvent> = []
      const fiber = yield* fromFrames(Stream.fromQueue(frames), {
        venue: "binance",
        markets: [btc, eth],
        rest,
        buffer: 3
      }).pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.fork
      )
      const settle = Effect.forEach(Array.from({ length: 200 }), () => Effect.yieldNow(), { discard: true })
      yield* Queue.offerAll(frames, [frame("BTCUSDT", 1), frame("BTCUSDT", 2), frame("BTCUSDT", 5)])
      yield* settle
      for (let id = 6; id <= 20; id++) yield* Queue.offer(frames, frame("BTCUSDT", id))
      for (let id = 1; id <= 3; id++) yield* Queue.offer(frames, frame("ETHUSDT", id))
      yield* settle
      expect(idsOf(events, btc)).toEqual([1, 2])
      expect(idsOf(events, eth)).toEqual([1, 2, 3])
      yield* Deferred.succeed(release, undefined)
      yield* settle
      yield* Queue.offer(frames, frame("BTCUSDT", 21))
      yield* settle
      yield* Queue.shutdown(frames)
      yield* Fiber.interrupt(fiber)
      expect(idsOf(events, btc)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
      expect(events.some((e) => e._tag === "Gap")).toBe(false)
      expect(calls.length).toBe(2)
    })
  )
})
