import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Fiber, Stream } from "effect"
import type { Market } from "../../src/Domain/Market.js"
import type { LastId } from "../../src/Venues/Continuity.js"
import type { VenueEvent } from "../../src/Venues/GapFill.js"
import { type FrameInput, fromFrames } from "../../src/Venues/Pipeline.js"
import { httpTransport, makeClient, type RestAnswer, type RestLimits, type TradeVenue } from "../../src/Venues/Rest.js"
import type { FakeVenue } from "./FakeVenue.js"
import { wsFrames } from "./WsFrames.js"

/** A venue pipeline against a fake venue, run in the background; its events land in `events` as they come. */

export const fastLimits: Partial<RestLimits> = { minSpacing: 0, retryWait: "5 millis", maxRetryAfter: "1 second" }

/** One line of a recording, as the tests write it (the contract's shape: docs/markets.md). */
export interface Line {
  readonly at: number
  readonly kind: "open" | "frame" | "closed" | "rest"
  readonly text: string
  readonly url?: string
  readonly status?: number
}

export interface Run {
  readonly events: Array<VenueEvent>
  readonly lines: Array<Line>
  readonly stop: Effect.Effect<void>
  /** Waits (bounded) until `done(events)` holds. */
  readonly until: (done: (events: ReadonlyArray<VenueEvent>) => boolean, what: string) => Effect.Effect<void, Error>
}

const pause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

export const waitFor = (done: () => boolean, what: string, timeoutMs = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (!done()) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* pause(5)
    }
  })

export const startRun = (
  fake: FakeVenue,
  markets: ReadonlyArray<Market>,
  options: { readonly lastIds?: ReadonlyMap<Market, LastId>; readonly limits?: Partial<RestLimits> } = {}
): Effect.Effect<Run> =>
  Effect.gen(function* () {
    const venue = fake.venue as TradeVenue
    const events: Array<VenueEvent> = []
    const lines: Array<Line> = []
    const record = (a: RestAnswer) =>
      Effect.sync(() => lines.push({ at: a.at, kind: "rest", text: a.text, url: a.url, status: a.status }))
    const tap = (e: FrameInput) =>
      Effect.sync(() =>
        lines.push(
          e._tag === "Frame"
            ? { at: e.at, kind: "frame", text: e.text }
            : { at: e.at, kind: e._tag === "Open" ? "open" : "closed", text: e._tag === "Closed" ? e.reason : "" }
        )
      )
    const frames = wsFrames(venue, fake.wsUrl, markets).pipe(Stream.tap(tap))
    const events$ = Stream.unwrap(
      Effect.gen(function* () {
        const transport = yield* httpTransport(fake.restUrl, "1 hour")
        const rest = yield* makeClient({ venue, transport, limits: options.limits ?? fastLimits, record })
        return fromFrames(frames, { venue, markets, lastIds: options.lastIds, rest })
      })
    )
    // The HTTP client lives as long as the run: provided to the forked fiber, not to this setup.
    const fiber = yield* events$.pipe(
      Stream.runForEach((e) => Effect.sync(() => events.push(e))),
      Effect.provide(NodeHttpClient.layerUndici),
      Effect.fork
    )
    return {
      events,
      lines,
      stop: Fiber.interrupt(fiber).pipe(Effect.asVoid),
      until: (done, what) => waitFor(() => done(events), what)
    }
  })

/** Waits until the run has opened its `n`-th connection and the venue has acknowledged the subscription on it. */
export const opened = (run: Run, venue: TradeVenue, n: number) =>
  waitFor(() => {
    const opens = run.lines.flatMap((l, i) => (l.kind === "open" ? [i] : []))
    const last = opens[n - 1]
    if (last === undefined) return false
    if (venue === "binance") return true // subscribed by the URL
    return run.lines.slice(last).some((l) => l.kind === "frame" && /"subscriptions"|"method":"subscribe"/.test(l.text))
  }, `connection ${n}`)

export const tradeIds = (events: ReadonlyArray<VenueEvent>, market: Market) =>
  events.flatMap((e) => (e._tag === "Trade" && e.trade.market === market ? [e.trade.tradeId] : []))

export const gapRanges = (events: ReadonlyArray<VenueEvent>, market: Market) =>
  events.flatMap((e) => (e._tag === "Gap" && e.gap.market === market ? [[e.gap.fromId, e.gap.toId, e.gap.reason]] : []))
