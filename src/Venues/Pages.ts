import { Either } from "effect"
import { binanceSymbol, coinbaseProduct, krakenRestPair, krakenSymbol, type MarketParts } from "../Domain/Market.js"
import type { VenueTrade } from "../Domain/Trade.js"
import { decodeAggTrades } from "./Binance/Rest.js"
import { decodeTradesPage as decodeCoinbasePage } from "./Coinbase/Rest.js"
import { decodeTradesPage as decodeKrakenPage } from "./Kraken/Rest.js"
import type { TradeVenue } from "./Rest.js"

/**
 * The trade pages of each venue's REST API, as windows over a market's ids. A page request names where it starts;
 * its answer gives the trades and how far up it speaks for: ids up to `coveredTo` that it lacks, the venue does not
 * have (they become a gap), and the next page starts after it.
 */

export const pageLimit = 1000

/** Where the next page starts: an id (Binance, Coinbase) or Kraken's `since` cursor (ns, exclusive). */
export type Cursor = { readonly _tag: "Id"; readonly id: number } | { readonly _tag: "Since"; readonly since: string }

export interface PageRequest {
  readonly url: string
  readonly read: (json: unknown) => Either.Either<PageRead, string>
}

export interface PageRead {
  readonly trades: ReadonlyArray<VenueTrade>
  /** The page speaks for ids up to here: those it lacks are not served. */
  readonly coveredTo: number
  /** Where the page after it starts; undefined when the venue has nothing further. */
  readonly next: Cursor | undefined
  /** Kraken: refused for the rate limit inside a 200 answer. */
  readonly rateLimited?: boolean
}

/** The first page for ids `fromId..`: by id, or (Kraken) from the time of the trade before them. */
export const firstCursor = (venue: TradeVenue, fromId: number, beforeTime: number): Cursor =>
  venue === "kraken"
    ? // The whole millisecond of the trade before: many trades share one, and since is exclusive.
      { _tag: "Since", since: `${BigInt(Math.max(0, beforeTime)) * 1_000_000n - 1n}` }
    : { _tag: "Id", id: fromId }

const maxId = (trades: ReadonlyArray<VenueTrade>) => trades.reduce((m, t) => Math.max(m, t.tradeId), -1)

/** Binance aggTrades from an id, oldest first; a short page means the venue has nothing after it. */
const binancePage = (m: MarketParts, from: number, toId: number): PageRequest => {
  const symbol = binanceSymbol(m)
  const limit = Math.min(pageLimit, toId - from + 1)
  return {
    url: `/api/v3/aggTrades?symbol=${symbol}&fromId=${from}&limit=${limit}`,
    read: (json) =>
      Either.map(decodeAggTrades(symbol, json), (trades) => {
        const coveredTo = trades.length < limit ? toId : Math.max(from, maxId(trades))
        return { trades, coveredTo, next: coveredTo >= toId ? undefined : { _tag: "Id", id: coveredTo + 1 } }
      })
  }
}

/**
 * Coinbase pages back from a cursor, newest first: `after=X` gives the trades with ids below X (the CB-AFTER cursor
 * of this endpoint is a trade id). Windows of `limit` ids ending at X - 1 go oldest first over the range.
 */
const coinbasePage = (m: MarketParts, from: number, toId: number): PageRequest => {
  const product = coinbaseProduct(m)
  const after = Math.min(from + pageLimit, toId + 1)
  const noHeaders = { get: () => null }
  return {
    url: `/products/${product}/trades?limit=${after - from}&after=${after}`,
    read: (json) =>
      Either.map(decodeCoinbasePage(product, json, noHeaders), (page) => ({
        trades: page.trades,
        coveredTo: after - 1,
        next: after > toId ? undefined : { _tag: "Id", id: after }
      }))
  }
}

/** Kraken by time: up to 1000 trades after `since`; fewer means it has nothing further yet. */
const krakenPage = (m: MarketParts, since: string, toId: number): PageRequest => {
  const pair = krakenRestPair(m)
  return {
    url: `/0/public/Trades?pair=${pair}&since=${since}`,
    read: (json) => {
      const page = decodeKrakenPage(krakenSymbol(m), json)
      if (Either.isLeft(page))
        return page.left.rateLimited
          ? Either.right({ trades: [], coveredTo: -1, next: { _tag: "Since", since }, rateLimited: true })
          : Either.left(page.left.message)
      const { trades, last } = page.right
      const full = trades.length >= pageLimit
      const coveredTo = full ? maxId(trades) : toId
      // A cursor that does not move would ask for the same page forever.
      const stuck = last === since
      return Either.right({
        trades,
        coveredTo: stuck ? toId : coveredTo,
        next: stuck || coveredTo >= toId ? undefined : { _tag: "Since", since: last }
      })
    }
  }
}

/** The request for the page at `cursor`, for ids up to `toId`, of market `m`; `from` is the lowest id still wanted. */
export const pageAt = (m: MarketParts, cursor: Cursor, from: number, toId: number): PageRequest => {
  if (cursor._tag === "Since") return krakenPage(m, cursor.since, toId)
  return m.venue === "binance" ? binancePage(m, Math.max(from, cursor.id), toId) : coinbasePage(m, cursor.id, toId)
}
