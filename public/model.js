// What the dashboard knows about the API: intervals, ranges, limits, and the checks on every value it receives.

import { INTERVALS, SYMBOL_RE } from "./domain.js"

export { INTERVALS, SYMBOL_RE }

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

/** A tick from the server, or null when it is not one. */
export const asTick = (t) =>
  isObject(t) && typeof t.symbol === "string" && SYMBOL_RE.test(t.symbol) && isNum(t.price) && isNum(t.eventTime)
    ? t
    : null

/** A candle from the server, or null when it is not one. */
export const asCandle = (c) => {
  if (!isObject(c) || typeof c.symbol !== "string" || !SYMBOL_RE.test(c.symbol)) return null
  if (typeof c.interval !== "string" || !Object.hasOwn(INTERVALS, c.interval)) return null
  const prices = [c.bucketStart, c.open, c.high, c.low, c.close]
  return prices.every(isNum) ? c : null
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
