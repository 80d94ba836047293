import { type Chunk, Effect, Either, Fiber, Metric, Queue, Schedule, Stream } from "effect"
import type { Kline } from "../Domain/Kline.js"
import { type Market, marketParts, symbolIndex } from "../Domain/Market.js"
import { toTrade, type VenueTrade } from "../Domain/Trade.js"
import { venueKline } from "./Binance/Frames.js"
import * as Continuity from "./Continuity.js"
import { readFrame } from "./Decode.js"
import { type FillBudget, type FillEvent, fill, type VenueEvent } from "./GapFill.js"
import { fillMetrics } from "./Metrics.js"
import type { RestClient, TradeVenue } from "./Rest.js"

/**
 * Frames → each market's trades in id order, gaps filled or recorded. One venue's frames are read in order; each
 * trade goes to its market's worker, which checks continuity and fills jumps from REST while the market's later
 * trades wait in its buffer (the other markets go on). A live buffer that overflows drops the newest trades: the
 * jump they leave is filled from REST like any other. Replay waits instead, so it takes the same path as live.
 * A venue's kline goes through its market's worker too, past continuity: it comes out after every trade received
 * before it, and after the fill those trades started.
 */

/** What the pipeline reads of venue-conn's FrameEvent (Connection.ts). */
export type FrameInput =
  | { readonly _tag: "Open"; readonly at: number }
  | { readonly _tag: "Frame"; readonly at: number; readonly text: string }
  | { readonly _tag: "Closed"; readonly at: number; readonly reason: string }

export interface PipelineOptions {
  readonly venue: TradeVenue
  readonly markets: ReadonlyArray<Market>
  /** Where each market's stream left off (the bus): trades up to these ids are duplicates, the rest is filled. */
  readonly lastIds?: ReadonlyMap<Market, Continuity.LastId> | undefined
  readonly rest: RestClient
  readonly budget?: FillBudget | undefined
  /** Trades a market may hold while it fills (default 10,000). */
  readonly buffer?: number | undefined
  /** "drop" (live; default) drops trades past the buffer, "wait" (replay) holds the frames back. */
  readonly overflow?: "drop" | "wait" | undefined
}

type Item =
  | { readonly _tag: "Trade"; readonly trade: VenueTrade; readonly at: number }
  | { readonly _tag: "Heartbeat"; readonly lastTradeId: number; readonly at: number; readonly time: number }
  | { readonly _tag: "Kline"; readonly kline: Kline }
  | { readonly _tag: "End" }

const end: Item = { _tag: "End" }
const done = Symbol("done")

interface Worker {
  readonly queue: Queue.Queue<Item>
  fiber?: Fiber.RuntimeFiber<void>
}

/**
 * A market's events, collected and handed on once per batch of items (and before each fill, which emits its own
 * pages): a queue operation and a metric update per trade were most of the venue path's time.
 */
const makeBatch = (
  out: Queue.Queue<VenueEvent | typeof done>,
  trades: Metric.Metric.Counter<number>,
  klines: Metric.Metric.Counter<number>,
  lastTime: Metric.Metric.Gauge<number>
) => {
  let pending: Array<VenueEvent> = []
  let delivered = 0
  let klineCount = 0
  let lastTradeTime: number | undefined
  const push = (e: VenueEvent) => {
    if (e._tag === "Trade") {
      delivered++
      lastTradeTime = e.trade.eventTime
    } else if (e._tag === "Kline") klineCount++
    pending.push(e)
  }
  const flush = Effect.suspend(() => {
    if (pending.length === 0) return Effect.void
    const events = pending
    const count = delivered
    const klineTotal = klineCount
    const time = lastTradeTime
    pending = []
    delivered = 0
    klineCount = 0
    lastTradeTime = undefined
    return Effect.all([
      count === 0 ? Effect.void : Metric.incrementBy(trades, count),
      klineTotal === 0 ? Effect.void : Metric.incrementBy(klines, klineTotal),
      time === undefined ? Effect.void : Metric.set(lastTime, time / 1000),
      Queue.offerAll(out, events)
    ])
  })
  return { push, flush }
}

const runMarket = (
  options: PipelineOptions,
  market: Market,
  queue: Queue.Queue<Item>,
  out: Queue.Queue<VenueEvent | typeof done>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { venue } = options
    const trades = Metric.tagged(Metric.tagged(fillMetrics.trades, "venue", venue), "market", market)
    const klines = Metric.tagged(Metric.tagged(fillMetrics.klines, "venue", venue), "market", market)
    const lastTime = Metric.tagged(Metric.tagged(fillMetrics.lastTradeTime, "venue", venue), "market", market)
    const duplicates = Metric.tagged(fillMetrics.duplicates, "venue", venue)
    const found = Metric.tagged(fillMetrics.gapsFound, "venue", venue)
    const given = options.lastIds?.get(market)
    let state = given === undefined ? Continuity.unknown : Continuity.known(given)
    let hint: number | undefined
    const batch = makeBatch(out, trades, klines, lastTime)
    const collect = (e: FillEvent) => {
      const last = Continuity.lastOf(state)
      state = Continuity.deliver(
        state,
        e._tag === "Trade"
          ? { id: e.trade.tradeId, time: e.trade.eventTime }
          : { id: e.gap.toId, time: last?.time ?? e.gap.fromTime }
      )
      batch.push(e)
    }
    const flush = batch.flush
    const emit = (events: ReadonlyArray<FillEvent>) =>
      Effect.suspend(() => {
        for (const e of events) collect(e)
        return flush
      })
    const fillTo = (toId: number, afterTime: number, at: number) => {
      const before = Continuity.lastOf(state)
      if (before === undefined || toId <= before.id) return Effect.void
      const request = { market, fromId: before.id + 1, toId, before, afterTime, detectedAt: at }
      return Effect.zipRight(Metric.increment(found), fill(options.rest, request, emit, options.budget))
    }
    let dropped = 0
    while (true) {
      const items = yield* Queue.takeBetween(queue, 1, 1024)
      for (const item of items) {
        if (item._tag === "End") return yield* Effect.zipRight(flush, Metric.incrementBy(duplicates, dropped))
        if (item._tag === "Kline") {
          batch.push(item)
          continue
        }
        if (item._tag === "Heartbeat") {
          // Coinbase says which id the product is at: a match missed at the tail is filled now, not at the next one.
          // Only from the heartbeat before this one: a match and the heartbeat after it may cross on the way.
          if (hint !== undefined) yield* Effect.zipRight(flush, fillTo(hint, item.time, item.at))
          hint = item.lastTradeId
          continue
        }
        const verdict = Continuity.classify(state, item.trade.tradeId)
        if (verdict._tag === "Duplicate") {
          state = Continuity.dropped(state)
          dropped++
          continue
        }
        if (verdict._tag === "Jump") yield* Effect.zipRight(flush, fillTo(verdict.toId, item.trade.eventTime, item.at))
        // The fill may have delivered up to here already (a heartbeat raced ahead); classify again.
        if (Continuity.classify(state, item.trade.tradeId)._tag === "Duplicate") continue
        collect({ _tag: "Trade", trade: toTrade(market, item.trade, item.at) })
      }
      yield* flush
      if (dropped > 0) {
        yield* Metric.incrementBy(duplicates, dropped)
        dropped = 0
      }
    }
  })

/** Reads frames and hands each trade to its market's worker; skipped frames are counted and logged once per kind. */
const router = (options: PipelineOptions, workers: ReadonlyMap<Market, Worker>) => {
  const index = symbolIndex(options.markets.map(marketParts))
  const logged = new Set<string>()
  const skipped = (kind: string) =>
    Metric.tagged(Metric.tagged(fillMetrics.framesSkipped, "venue", options.venue), "kind", kind)
  const dropping = new Set<Market>()
  const offer = (market: Market, items: Array<Item>) =>
    Effect.gen(function* () {
      const worker = workers.get(market)
      if (worker === undefined) return
      const taken = yield* Queue.offerAll(worker.queue, items)
      // Dropped past the buffer: the jump it leaves is filled from REST. Logged once per overflow.
      if (taken) dropping.delete(market)
      else if (!dropping.has(market)) {
        dropping.add(market)
        yield* Effect.logWarning(`${market}: buffer full while filling; newer trades are dropped and filled later`)
      }
    })
  const skip = (kind: string, message: string) =>
    Effect.gen(function* () {
      yield* Metric.increment(skipped(kind))
      if (logged.has(kind)) return
      logged.add(kind)
      yield* Effect.logWarning(`${options.venue}: skipping frames of kind ${kind} (logged once per kind): ${message}`)
    })
  // A chunk of frames at a time: each market's items are handed to its worker in one offer, in frame order.
  return (events: Chunk.Chunk<FrameInput>) =>
    Effect.gen(function* () {
      const batches = new Map<Market, Array<Item>>()
      const add = (market: Market, item: Item) => {
        const batch = batches.get(market)
        if (batch === undefined) batches.set(market, [item])
        else batch.push(item)
      }
      for (const event of events) {
        if (event._tag !== "Frame") continue
        const read = readFrame(options.venue, event.text)
        switch (read._tag) {
          case "Trades":
            for (const trade of read.trades) {
              const market = index.get(trade.symbol)
              if (market === undefined) yield* skip("unsubscribed", `a trade of ${trade.symbol}`)
              else add(market, { _tag: "Trade", trade, at: event.at })
            }
            break
          case "Kline": {
            const market = index.get(read.kline.symbol)
            if (market === undefined) {
              yield* skip("unsubscribed", `a kline of ${read.kline.symbol}`)
              break
            }
            const kline = venueKline(market, read.kline, event.at)
            if (Either.isLeft(kline)) yield* skip("kline", `${kline.left}: ${read.excerpt}`)
            else add(market, { _tag: "Kline", kline: kline.right })
            break
          }
          case "Heartbeat": {
            const market = index.get(read.symbol)
            if (market !== undefined)
              add(market, { _tag: "Heartbeat", lastTradeId: read.lastTradeId, at: event.at, time: read.time })
            break
          }
          case "Skipped":
            yield* skip(read.kind, `${read.reason}: ${read.excerpt}`)
            break
          case "Refused":
            yield* Effect.logWarning(`${options.venue} refused: ${read.message}`)
            break
          default:
            break
        }
      }
      for (const [market, items] of batches) yield* offer(market, items)
    })
}

/** A venue's frames → its markets' events, each market in id order. Never fails; ends when the frames end. */
export const fromFrames = <E, R>(
  frames: Stream.Stream<FrameInput, E, R>,
  options: PipelineOptions
): Stream.Stream<VenueEvent, never, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const capacity = options.buffer ?? 10_000
      const out = yield* Queue.bounded<VenueEvent | typeof done>(1024)
      const workers = new Map<Market, Worker>()
      for (const market of options.markets) {
        const queue = yield* options.overflow === "wait"
          ? Queue.bounded<Item>(capacity)
          : Queue.dropping<Item>(capacity)
        const worker: Worker = { queue }
        worker.fiber = yield* Effect.forkScoped(
          runMarket(options, market, queue, out).pipe(
            // Only a defect gets here (the worker's effects do not fail): say so loudly; the other markets go on.
            Effect.catchAllCause((cause) => Effect.logError(`${market}: the market's worker stopped`, cause))
          )
        )
        workers.set(market, worker)
      }
      const finish = Effect.forEach(workers.values(), (w) =>
        // A dropping queue refuses while full: wait for room, the end must get through.
        Effect.repeat(Queue.offer(w.queue, end), { until: (ok) => ok, schedule: Schedule.spaced("10 millis") })
      ).pipe(
        Effect.zipRight(
          Effect.forEach(workers.values(), (w) => (w.fiber === undefined ? Effect.void : Fiber.join(w.fiber)))
        ),
        Effect.zipRight(Queue.offer(out, done))
      )
      yield* frames.pipe(
        Stream.runForEachChunk(router(options, workers)),
        Effect.catchAllCause((cause) => Effect.logError(`${options.venue}: the frames stream failed`, cause)),
        Effect.zipRight(finish),
        Effect.forkScoped
      )
      return Stream.fromQueue(out).pipe(Stream.takeWhile((e): e is VenueEvent => e !== done))
    })
  )
