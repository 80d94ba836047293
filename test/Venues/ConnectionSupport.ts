import { Duration, Effect, Option, Queue, Stream, TestServices } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import { type ConnectionOptions, type FrameEvent, frames } from "../../src/Venues/Connection.js"
import { type FakeVenueOptions, startFakeVenue } from "../support/FakeVenue.js"

// Helpers for the connection tests: a fake venue for the test's scope, the stream's events in a queue, and waits
// that are bounded (they fail the test instead of hanging) without asserting anything about wall-clock time.

export const btcUsdt = "binance:BTC-USDT" as Market
export const ethUsdt = "binance:ETH-USDT" as Market
export const coinbaseBtc = "coinbase:BTC-USD" as Market
export const krakenBtc = "kraken:BTC-USD" as Market

const bound = Duration.seconds(10)

/** A fake venue on loopback, closed with the scope. */
export const fakeVenue = (options: FakeVenueOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startFakeVenue(options)),
    (v) => Effect.promise(() => v.close())
  )

/** Waits for a promise of the fake venue, at most `bound` of real time. */
export const awaitFake = <A>(promise: () => Promise<A>, what: string) =>
  TestServices.provideLive(
    Effect.promise(promise).pipe(Effect.timeoutFail({ duration: bound, onTimeout: () => new Error(`no ${what}`) }))
  )

/** Real time passing, whatever the test's clock. */
export const liveSleep = (d: Duration.DurationInput) => TestServices.provideLive(Effect.sleep(d))

/** Checks `done` every few ms of real time until it holds, at most `bound`. */
export const eventually = (done: () => boolean, what: string) =>
  TestServices.provideLive(
    Effect.gen(function* () {
      while (!done()) yield* Effect.sleep("5 millis")
    }).pipe(Effect.timeoutFail({ duration: bound, onTimeout: () => new Error(`never: ${what}`) }))
  )

/** Runs `frames(options)` for the scope; `next(tag)` takes events up to the first of that tag. */
export const connect = (options: ConnectionOptions) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<FrameEvent>()
    const all: Array<FrameEvent> = []
    yield* Effect.forkScoped(Stream.runForEach(frames(options), (e) => Queue.offer(queue, e)))
    const take = TestServices.provideLive(
      Queue.take(queue).pipe(Effect.timeoutFail({ duration: bound, onTimeout: () => new Error("no event") }))
    )
    /** Every event up to and with the first of `tag`. */
    const until = <T extends FrameEvent["_tag"]>(tag: T) =>
      Effect.gen(function* () {
        const seen: Array<FrameEvent> = []
        for (;;) {
          const e = yield* take
          all.push(e)
          seen.push(e)
          if (e._tag === tag) return { event: e as Extract<FrameEvent, { _tag: T }>, seen }
        }
      })
    const next = <T extends FrameEvent["_tag"]>(tag: T) => Effect.map(until(tag), (r) => r.event)
    /** The next `n` frames' texts (other events in between are kept in `all`). */
    const texts = (n: number) =>
      Effect.gen(function* () {
        const out: Array<string> = []
        while (out.length < n) {
          const e = yield* take
          all.push(e)
          if (e._tag === "Frame") out.push(e.text)
        }
        return out
      })
    const pending = () => Option.getOrElse(queue.unsafeSize(), () => 0)
    return { queue, all, until, next, texts, pending }
  })
