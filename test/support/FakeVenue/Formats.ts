import { coinbaseProduct, krakenRestPair, krakenSymbol, type Market, marketParts } from "../../../src/Domain/Market.js"
import {
  type Book,
  byName,
  type FakeTrade,
  isoMicros,
  limitOf,
  none,
  parse,
  type Reply,
  type RestAnswer,
  strings
} from "./Common.js"

/** How each venue writes trades, replies and REST pages, for the fake venue (research/venues.md). Binance: Binance.ts. */

export * from "./Binance.js"
export * from "./Common.js"

// Coinbase

const makerSide = (t: FakeTrade) => (t.side === "buy" ? "sell" : "buy")

export const coinbaseTrade = (t: FakeTrade, sequence: number): string =>
  JSON.stringify({
    type: "match",
    trade_id: t.tradeId,
    maker_order_id: `maker-${t.tradeId}`,
    taker_order_id: `taker-${t.tradeId}`,
    side: makerSide(t),
    size: t.size,
    price: t.price,
    product_id: t.symbol,
    sequence,
    time: isoMicros(t.time)
  })

export const coinbaseHeartbeat = (market: Market, book: Book, sequence: number, now: number): string =>
  JSON.stringify({
    type: "heartbeat",
    sequence,
    last_trade_id: book.lastId(market) ?? 0,
    product_id: coinbaseProduct(marketParts(market)),
    time: isoMicros(now)
  })

export const coinbaseReply = (text: string, book: Book): Reply => {
  const u = parse(text)
  if (u === undefined || u["type"] !== "subscribe")
    return {
      ...none,
      frames: [JSON.stringify({ type: "error", message: "Failed to subscribe", reason: "bad request" })]
    }
  const products = strings(u["product_ids"])
  const markets = products.flatMap((p) => book.markets.filter((m) => coinbaseProduct(marketParts(m)) === p))
  if (markets.length < products.length)
    return {
      ...none,
      frames: [JSON.stringify({ type: "error", message: "Failed to subscribe", reason: "unknown product" })]
    }
  const channels = strings(u["channels"]).map((name) => ({ name, product_ids: products }))
  return { frames: [JSON.stringify({ type: "subscriptions", channels })], subscribe: markets, snapshot: false }
}

/** GET /products/<id>/trades?after=&before=&limit=: newest first; `after` pages to older trades, `before` to newer. */
export const coinbaseRest = (url: URL, book: Book): RestAnswer | undefined => {
  const path = /^\/products\/([^/]+)\/trades$/.exec(url.pathname)
  if (path === null) return undefined
  const market = byName(book, (m) => coinbaseProduct(marketParts(m)), decodeURIComponent(path[1] ?? ""))
  if (market === undefined) return { status: 404, body: { message: "NotFound" } }
  const limit = limitOf(url, 100, 1000)
  const after = url.searchParams.get("after")
  const before = url.searchParams.get("before")
  const all = book.trades(market)
  const picked =
    after !== null
      ? all.filter((t) => t.tradeId < Number(after)).slice(-limit)
      : before !== null
        ? all.filter((t) => t.tradeId > Number(before)).slice(0, limit)
        : all.slice(-limit)
  const rows = [...picked].reverse()
  const headers: Record<string, string> = {}
  if (rows.length > 0) {
    headers["cb-before"] = String(rows[0]?.tradeId)
    headers["cb-after"] = String(rows[rows.length - 1]?.tradeId)
  }
  const body = rows.map((t) => ({
    time: isoMicros(t.time),
    trade_id: t.tradeId,
    price: t.price,
    size: t.size,
    side: makerSide(t)
  }))
  return { status: 200, headers, body }
}

// Kraken

export const krakenTrades = (trades: ReadonlyArray<FakeTrade>, snapshot: boolean): string =>
  JSON.stringify({
    channel: "trade",
    type: snapshot ? "snapshot" : "update",
    data: trades.map((t) => ({
      symbol: t.symbol,
      side: t.side,
      price: Number(t.price),
      qty: Number(t.size),
      ord_type: "limit",
      trade_id: t.tradeId,
      timestamp: isoMicros(t.time)
    }))
  })

export const krakenStatus = JSON.stringify({
  channel: "status",
  type: "update",
  data: [{ api_version: "v2", connection_id: 1, system: "online", version: "2.0.0" }]
})

export const krakenReply = (text: string, book: Book, now: number): Reply => {
  const u = parse(text)
  const times = { time_in: isoMicros(now), time_out: isoMicros(now) }
  const reqId = typeof u?.["req_id"] === "number" ? { req_id: u["req_id"] } : {}
  if (u?.["method"] === "ping") return { ...none, frames: [JSON.stringify({ method: "pong", ...reqId, ...times })] }
  const params = u?.["params"]
  if (u?.["method"] !== "subscribe" || typeof params !== "object" || params === null)
    return {
      ...none,
      frames: [JSON.stringify({ error: "Malformed request", method: "error", success: false, ...times })]
    }
  const p = params as Record<string, unknown>
  const frames: Array<string> = []
  const markets: Array<Market> = []
  for (const symbol of strings(p["symbol"])) {
    const market = byName(book, (m) => krakenSymbol(marketParts(m)), symbol)
    if (market === undefined) {
      const error = `Currency pair not supported ${symbol}`
      frames.push(JSON.stringify({ error, method: "subscribe", success: false, symbol, ...reqId, ...times }))
      continue
    }
    markets.push(market)
    const result = { channel: p["channel"], snapshot: p["snapshot"] !== false, symbol }
    frames.push(JSON.stringify({ method: "subscribe", result, success: true, ...reqId, ...times }))
  }
  return { frames, subscribe: markets, snapshot: p["snapshot"] !== false }
}

/** The key Kraken's answer puts the rows under: XXBTZUSD for XBTUSD, the pair itself for newer pairs. */
const krakenResultKey = (pair: string) =>
  /^(XBT|ETH|LTC|XDG)(USD|EUR)$/.test(pair) ? `X${pair.slice(0, 3)}Z${pair.slice(3)}` : pair

/** GET /0/public/Trades?pair=&since=&count=: trades after `since` (ns, exclusive), oldest first, and a `last` cursor. */
export const krakenRest = (url: URL, book: Book): RestAnswer | undefined => {
  if (url.pathname !== "/0/public/Trades") return undefined
  const pair = url.searchParams.get("pair") ?? ""
  const market = byName(book, (m) => krakenRestPair(marketParts(m)), pair)
  if (market === undefined) return { status: 200, body: { error: ["EQuery:Unknown asset pair"] } }
  const since = BigInt(url.searchParams.get("since") ?? "0")
  const rows = book
    .trades(market)
    .filter((t) => BigInt(t.time) * 1_000_000n > since)
    .slice(0, limitOf(url, 1000, 1000))
  const last = rows.length > 0 ? BigInt(rows[rows.length - 1]?.time ?? 0) * 1_000_000n : since
  const table = rows.map((t) => [t.price, t.size, t.time / 1000, t.side === "buy" ? "b" : "s", "l", "", t.tradeId])
  return { status: 200, body: { error: [], result: { [krakenResultKey(pair)]: table, last: String(last) } } }
}
