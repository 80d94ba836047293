import { Effect, Either, Metric } from "effect"
import { Gap, type GapReason } from "../Domain/Gap.js"
import type { Kline } from "../Domain/Kline.js"
import { type Market, marketParts } from "../Domain/Market.js"
import { type Trade, toTrade, type VenueTrade } from "../Domain/Trade.js"
import type { LastId } from "./Continuity.js"
import { fillMetrics } from "./Metrics.js"
import { type Cursor, firstCursor, pageAt } from "./Pages.js"
import type { RestClient } from "./Rest.js"

/**
 * Filling a jump: the ids a market's stream skipped, fetched from the venue's REST API oldest first and emitted in id
 * order; what REST does not give back becomes a Gap record in its place. Never fails: every way it can go wrong ends
 * as a Gap with its reason.
 */

/** What continuity and gap-fill deal in: a market's trades and the gaps among them, in id order. */
export type FillEvent = { readonly _tag: "Trade"; readonly trade: Trade } | { readonly _tag: "Gap"; readonly gap: Gap }

/**
 * What a venue source emits: trades and gaps, and the venue's own closed 1m candles (Binance klines), which bypass
 * continuity but keep their place among the market's trades.
 */
export type VenueEvent = FillEvent | { readonly _tag: "Kline"; readonly kline: Kline }

/** The market an event belongs to. */
export const marketOfEvent = (e: VenueEvent): Market =>
  e._tag === "Trade" ? e.trade.market : e._tag === "Gap" ? e.gap.market : e.kline.market

export interface FillBudget {
  /** Pages one fill may fetch. */
  readonly maxPages: number
  /** Ids one fill may fetch; the ids past them become a `too-large` gap. */
  readonly maxIds: number
}

export const defaultBudget: FillBudget = { maxPages: 50, maxIds: 50_000 }

export interface FillRequest {
  readonly market: Market
  /** The missing ids, inclusive. */
  readonly fromId: number
  readonly toId: number
  /** The trade delivered before them. */
  readonly before: LastId
  /** Event time of the trade after them (the one that showed the jump). */
  readonly afterTime: number
  /** When the jump was seen, epoch ms: the gaps' detectedAt. */
  readonly detectedAt: number
}

interface Progress {
  /** The lowest id not yet delivered or gapped. */
  next: number
  /** Event time of the last trade delivered. */
  prevTime: number
}

const gapOf = (req: FillRequest, p: Progress, toId: number, toTime: number, reason: GapReason): FillEvent => ({
  _tag: "Gap",
  gap: new Gap({
    type: "gap",
    market: req.market,
    fromId: p.next,
    toId,
    fromTime: p.prevTime,
    toTime,
    reason,
    detectedAt: req.detectedAt
  })
})

/** A page's trades in the wanted window, in id order, each once, with gaps where ids are missing up to coveredTo. */
const readPage = (
  req: FillRequest,
  p: Progress,
  page: { readonly trades: ReadonlyArray<VenueTrade>; readonly coveredTo: number },
  receiptTime: number,
  toId: number
): Array<FillEvent> => {
  const events: Array<FillEvent> = []
  const rows = page.trades.filter((t) => t.tradeId >= p.next && t.tradeId <= toId).sort((a, b) => a.tradeId - b.tradeId)
  for (const row of rows) {
    if (row.tradeId < p.next) continue // the same id twice in an answer
    if (row.tradeId > p.next) events.push(gapOf(req, p, row.tradeId - 1, row.eventTime, "not-served"))
    events.push({ _tag: "Trade", trade: toTrade(req.market, row, receiptTime) })
    p.next = row.tradeId + 1
    p.prevTime = row.eventTime
  }
  const covered = Math.min(page.coveredTo, toId)
  if (covered >= p.next) {
    events.push(gapOf(req, p, covered, covered === req.toId ? req.afterTime : p.prevTime, "not-served"))
    p.next = covered + 1
  }
  return events
}

/**
 * Fills `req` page by page through `client`, handing each page's events to `emit` as they come, in id order. The
 * budget bounds the pages and ids; past it, or once REST keeps failing or refusing, the rest is one Gap.
 */
export const fill = (
  client: RestClient,
  req: FillRequest,
  emit: (events: ReadonlyArray<FillEvent>) => Effect.Effect<void>,
  budget: FillBudget = defaultBudget
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const parts = marketParts(req.market)
    const filled = Metric.tagged(fillMetrics.filled, "venue", client.venue)
    const unfilled = (reason: GapReason) =>
      Metric.tagged(Metric.tagged(fillMetrics.unfilled, "venue", client.venue), "reason", reason)
    const p: Progress = { next: req.fromId, prevTime: req.before.time }
    const lastWanted = Math.min(req.toId, req.fromId + budget.maxIds - 1)
    let cursor: Cursor | undefined = firstCursor(client.venue, req.fromId, req.before.time)
    let pages = 0
    let failure: GapReason | undefined
    const out = (events: ReadonlyArray<FillEvent>) =>
      Effect.gen(function* () {
        for (const e of events) {
          if (e._tag === "Trade") yield* Metric.increment(filled)
          else yield* Metric.increment(unfilled(e.gap.reason))
        }
        if (events.length > 0) yield* emit(events)
      })
    while (cursor !== undefined && p.next <= lastWanted && failure === undefined) {
      if (pages >= budget.maxPages) break
      pages++
      const request = pageAt(parts, cursor, p.next, lastWanted)
      const answer = yield* Effect.either(client.get(request.url))
      if (Either.isLeft(answer)) {
        failure = answer.left.reason
        yield* Effect.logWarning(
          `${req.market}: REST fill of ids ${p.next}..${req.toId} stopped: ${answer.left.message}`
        )
        break
      }
      const read = Either.flatMap(
        Either.try({ try: () => JSON.parse(answer.right.text) as unknown, catch: () => "the answer is not JSON" }),
        request.read
      )
      if (Either.isLeft(read) || read.right.rateLimited === true) {
        failure = Either.isLeft(read) ? "rest-failed" : "rate-limited"
        const why = Either.isLeft(read) ? read.left : "rate limited"
        yield* Effect.logWarning(`${req.market}: REST answer for ${request.url} not read: ${why}`)
        break
      }
      yield* out(readPage(req, p, read.right, answer.right.at, lastWanted))
      cursor = read.right.next
    }
    if (p.next <= lastWanted && failure === undefined && cursor === undefined) {
      // The venue has nothing further: what is left of the window is not served.
      yield* out([gapOf(req, p, lastWanted, lastWanted === req.toId ? req.afterTime : p.prevTime, "not-served")])
      p.next = lastWanted + 1
    }
    if (p.next <= req.toId) yield* out([gapOf(req, p, req.toId, req.afterTime, failure ?? "too-large")])
  })
