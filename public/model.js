// What the dashboard knows about the API: intervals, ranges, limits, and the checks on every value it receives.

import { INTERVALS, MARKET_RE, SYMBOL_RE, VENUES } from "./domain.js"

export { INTERVALS, SYMBOL_RE, VENUES }

/** Chart ranges, in seconds (candle intervals, in seconds, come from the server's domain module). */
export const RANGES = { "2h": 7200, "12h": 43200, "3d": 259200, "30d": 2592000 }
export const WARMUP = 50 // candles fetched before the range, so SMA 50 / Bollinger have their whole window on screen
export const MAX_LIMIT = 5000 // the API's own cap
export const POLL_MS = 10000

/** The indicator columns of a series, flat: the API's {sma20, …, bollinger: {upper, lower}} as one value each. */
export const IND_COLS = ["sma20", "sma50", "ema12", "ema26", "bbUpper", "bbLower", "rsi14"]

export const isNum = (v) => typeof v === "number" && Number.isFinite(v)
const numOrNull = (v) => (isNum(v) ? v : null)
const isObject = (v) => typeof v === "object" && v !== null

export const parseJson = (text) => {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

// == markets (docs/markets.md): venue:BASE-QUOTE

/** The order of venues where a bare symbol's default market is chosen (and the picker's groups). */
export const VENUE_ORDER = ["coingecko", "simulator", "binance", "coinbase", "kraken"]
export const QUOTE_ORDER = ["USD", "USDT"]

export const isMarket = (s) => {
  if (typeof s !== "string") return false
  const m = MARKET_RE.exec(s)
  return m !== null && m[2] !== m[3]
}

/** A valid market's parts; null for anything else (a bare symbol). */
export const marketParts = (s) => {
  if (!isMarket(s)) return null
  const [, venue, base, quote] = MARKET_RE.exec(s)
  return { venue, base, quote }
}

/** The base asset of a market, or the symbol itself. */
export const baseOf = (sel) => marketParts(sel)?.base ?? sel

/** The market of a tick written without one: the simulator's, else CoinGecko's (replay included), as the server says. */
export const sampleMarket = (source, symbol) => {
  const venue =
    source === "simulator" ? "simulator" : source === "replay" || !VENUES.includes(source) ? "coingecko" : source
  return `${venue}:${symbol}-USD`
}

export const marketOf = (t) => (typeof t.market === "string" ? t.market : sampleMarket(t.source, t.symbol))

/** Whether a candle (or an answer) is of the selection: by its market, or, from a server without markets, its symbol. */
export const isOf = (x, sel) => (typeof x.market === "string" ? x.market === sel : x.symbol === baseOf(sel))

const optMarket = (v) => v === undefined || isMarket(v)
const isTradeId = (v) => v === undefined || (Number.isSafeInteger(v) && v >= 0)
const isSide = (v) => v === undefined || v === "buy" || v === "sell"

/** A tick from the server, or null when it is not one. A trade carries its market, trade id and side. */
export const asTick = (t) =>
  isObject(t) &&
  typeof t.symbol === "string" &&
  SYMBOL_RE.test(t.symbol) &&
  isNum(t.price) &&
  isNum(t.eventTime) &&
  optMarket(t.market) &&
  isTradeId(t.tradeId) &&
  isSide(t.side)
    ? t
    : null

const STATES = ["live", "stale", "idle"]
const str = (v) => (typeof v === "string" ? v : null)

/** One entry of GET /api/markets, or null when it is not one. */
export const asMarketInfo = (m) => {
  if (!isObject(m) || !isMarket(m.market)) return null
  const parts = marketParts(m.market)
  return {
    market: m.market,
    ...parts,
    kind: m.kind === "trades" || m.kind === "sample" ? m.kind : str(m.kind),
    state: STATES.includes(m.state) ? m.state : null,
    lastEventTime: numOrNull(m.lastEventTime),
    lastPrice: numOrNull(m.lastPrice)
  }
}

/** A gap (SSE `gap`: the Gap record, or {gap: Gap}), or null when it is not one. */
export const asGap = (g) => {
  const gap = isObject(g) && isObject(g.gap) ? g.gap : g
  if (!isObject(gap) || !isMarket(gap.market) || !Number.isSafeInteger(gap.fromId)) return null
  return Number.isSafeInteger(gap.toId) && gap.toId >= gap.fromId ? gap : null
}

/** A candle from the server, or null when it is not one. */
export const asCandle = (c) => {
  if (!isObject(c) || typeof c.symbol !== "string" || !SYMBOL_RE.test(c.symbol) || !optMarket(c.market)) return null
  if (typeof c.interval !== "string" || !Object.hasOwn(INTERVALS, c.interval)) return null
  const prices = [c.bucketStart, c.open, c.high, c.low, c.close]
  return prices.every(isNum) ? c : null
}

// == completeness (docs/completeness.md): a candle's status and the gaps touching it

export const STATUSES = ["provisional", "final", "gap"]
/** A candle's status; a candle without one (a server before completeness) is final. */
export const statusOf = (c) => (STATUSES.includes(c.status) ? c.status : "final")
const isRef = (r) => isObject(r) && Number.isSafeInteger(r.fromId) && Number.isSafeInteger(r.toId) && r.toId >= r.fromId
/** The {fromId, toId} of each gap touching a candle (none when absent or malformed). */
export const gapRefsOf = (c) =>
  Array.isArray(c.gaps) ? c.gaps.filter(isRef).map((r) => ({ fromId: r.fromId, toId: r.toId })) : []
export const isClosed = (status) => status === "final" || status === "gap"

/** One entry of GET /api/markets/:market/gaps, or null: ids, times and why. */
export const asListedGap = (g) => {
  const gap = asGap(g)
  return gap && isNum(gap.fromTime) && isNum(gap.toTime) ? gap : null
}

/** GET /api/markets/:market/checks' summary: the four counts, or null when it is not one. */
export const asCheckSummary = (s) => {
  if (!isObject(s)) return null
  const counts = ["match", "mismatch", "gap", "missing"].map((k) => s[k])
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0)) return null
  const [match, mismatch, gap, missing] = counts
  return { match, mismatch, gap, missing }
}

/** One candle's indicator values, as the API and the SSE candle events carry them, as flat columns (null: none). */
export const asIndicators = (v) => {
  const bands = isObject(v) && isObject(v.bollinger) ? v.bollinger : {}
  const ind = isObject(v) ? v : {}
  return {
    sma20: numOrNull(ind.sma20),
    sma50: numOrNull(ind.sma50),
    ema12: numOrNull(ind.ema12),
    ema26: numOrNull(ind.ema26),
    bbUpper: numOrNull(bands.upper),
    bbLower: numOrNull(bands.lower),
    rsi14: numOrNull(ind.rsi14)
  }
}
