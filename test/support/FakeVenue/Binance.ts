import { binanceStream, binanceSymbol, type Market, marketParts } from "../../../src/Domain/Market.js"
import {
  type Book,
  byName,
  type FakeTrade,
  limitOf,
  none,
  parse,
  type Reply,
  type RestAnswer,
  strings
} from "./Common.js"
import type { FakeKline } from "./Klines.js"

/** How Binance writes aggTrades, klines, replies and aggTrades pages, for the fake venue (research/venues.md). */

export const binanceStreamName = (market: Market) => `${binanceStream(marketParts(market))}@aggTrade`
export const binanceKlineStreamName = (market: Market) => `${binanceStream(marketParts(market))}@kline_1m`

const aggTradeRow = (t: FakeTrade) => ({
  a: t.tradeId,
  p: t.price,
  q: t.size,
  f: t.firstRawId,
  l: t.lastRawId,
  T: t.time,
  m: t.side === "sell",
  M: true
})

export const binanceTrade = (t: FakeTrade, combined: boolean): string => {
  const data = { e: "aggTrade", E: t.time + 1, s: t.symbol, ...aggTradeRow(t) }
  return JSON.stringify(combined ? { stream: binanceStreamName(t.market), data } : data)
}

/** A kline_1m event: `closed` is `x`; `sentAt` its `E`. */
export const binanceKline = (k: FakeKline, closed: boolean, sentAt: number, combined: boolean): string => {
  const symbol = binanceSymbol(marketParts(k.market))
  const data = {
    e: "kline",
    E: sentAt,
    s: symbol,
    k: {
      t: k.bucketStart,
      T: k.bucketStart + 59_999,
      s: symbol,
      i: "1m",
      f: k.firstTradeId,
      L: k.lastTradeId,
      o: k.open,
      c: k.close,
      h: k.high,
      l: k.low,
      v: k.volume,
      n: k.tradeCount,
      x: closed,
      q: k.quoteVolume,
      V: "0",
      Q: "0",
      B: "0"
    }
  }
  return JSON.stringify(combined ? { stream: binanceKlineStreamName(k.market), data } : data)
}

export const binanceReply = (text: string, book: Book): Reply => {
  const u = parse(text)
  if (u === undefined)
    return { ...none, frames: [JSON.stringify({ error: { code: 3, msg: "Invalid JSON" }, id: null })] }
  if (u["method"] !== "SUBSCRIBE")
    return {
      ...none,
      frames: [JSON.stringify({ code: 2, msg: "Invalid request: unknown method", id: u["id"] ?? null })]
    }
  const params = strings(u["params"])
  const markets = params.flatMap((s) => book.markets.filter((m) => binanceStreamName(m) === s))
  const klines = params.flatMap((s) => book.markets.filter((m) => binanceKlineStreamName(m) === s))
  return {
    frames: [JSON.stringify({ result: null, id: u["id"] ?? null })],
    subscribe: markets,
    klines,
    snapshot: false
  }
}

/** GET /api/v3/aggTrades?symbol=&fromId=&limit=: oldest first from fromId, or the latest without it. */
export const binanceRest = (url: URL, book: Book): RestAnswer | undefined => {
  if (url.pathname !== "/api/v3/aggTrades") return undefined
  const market = byName(book, (m) => binanceSymbol(marketParts(m)), url.searchParams.get("symbol"))
  if (market === undefined) return { status: 400, body: { code: -1121, msg: "Invalid symbol." } }
  const limit = limitOf(url, 500, 1000)
  const from = url.searchParams.get("fromId")
  const all = book.trades(market)
  const rows = from === null ? all.slice(-limit) : all.filter((t) => t.tradeId >= Number(from)).slice(0, limit)
  return { status: 200, body: rows.map(aggTradeRow) }
}
