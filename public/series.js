// The charted series: candles as columns (uPlot's shape) with the server's indicator values, moved by live updates.
import { asIndicators, gapRefsOf, IND_COLS, INTERVALS, isClosed, isNum, MAX_LIMIT, statusOf } from "./model.js"

const COLS = ["x", "o", "h", "l", "c", "v", "n", "live", "st", "gaps"]

/**
 * x: bucket start in seconds; o h l c v; n: tick count (0 = a filled bucket); live: last changed by an SSE update;
 * st: status (provisional | final | gap); gaps: the {fromId, toId} of the gaps touching the candle.
 */
export const emptySeries = (market, interval, range) => {
  const cur = { market, interval, range, ind: {} }
  for (const k of COLS) cur[k] = []
  for (const k of IND_COLS) cur.ind[k] = []
  return cur
}

const count = (v) => (isNum(v) ? v : 0)

/** Appends a candle and its indicator values (flat columns, see asIndicators). */
export const pushCandle = (cur, c, ind, live = false) => {
  cur.x.push(c.bucketStart / 1000)
  cur.o.push(c.open)
  cur.h.push(c.high)
  cur.l.push(c.low)
  cur.c.push(c.close)
  cur.v.push(count(c.volume))
  cur.n.push(count(c.tickCount))
  cur.live.push(live)
  cur.st.push(statusOf(c))
  cur.gaps.push(gapRefsOf(c))
  for (const k of IND_COLS) cur.ind[k].push(ind[k])
}

const dropOldest = (cur) => {
  for (const k of COLS) cur[k].shift()
  for (const k of IND_COLS) cur.ind[k].shift()
}

const setCandle = (cur, i, c, ind) => {
  cur.o[i] = c.open
  cur.h[i] = c.high
  cur.l[i] = c.low
  cur.c[i] = c.close
  cur.v[i] = count(c.volume)
  cur.n[i] = count(c.tickCount)
  cur.live[i] = true
  cur.st[i] = statusOf(c)
  cur.gaps[i] = gapRefsOf(c)
  for (const k of IND_COLS) cur.ind[k][i] = ind[k]
}

/**
 * Buckets without a trade between the newest candle and x, as the API fills them: flat at the last close, with the
 * last candle's indicator values (the processor counts real candles only).
 */
const fillGap = (cur, x) => {
  const iv = INTERVALS[cur.interval]
  const gap = Math.round((x - cur.x[cur.x.length - 1]) / iv) - 1
  for (let g = 1; g <= gap && g <= 500; g++) {
    const prev = cur.x.length - 1
    const close = cur.c[prev]
    const carried = Object.fromEntries(IND_COLS.map((k) => [k, cur.ind[k][prev]]))
    const bucketStart = (cur.x[prev] + iv) * 1000
    pushCandle(cur, { bucketStart, open: close, high: close, low: close, close, volume: 0, tickCount: 0 }, carried)
  }
}

/**
 * A live candle (an SSE `candle` event, with its indicators): replaces the candle of the same bucket, or appends a
 * newer one. False when nothing changed.
 */
export const mergeCandle = (cur, c) => {
  const x = c.bucketStart / 1000
  const ind = asIndicators(c.indicators)
  const n = cur.x.length
  let i = n - 1
  while (i >= 0 && cur.x[i] > x) i--
  if (i >= 0 && cur.x[i] === x) {
    if (count(c.tickCount) < cur.n[i]) return false // an older state of this candle than the one we show
    // a final candle never changes again: a provisional state of it is older (a gap may still turn it `gap`)
    if (isClosed(cur.st[i]) && statusOf(c) === "provisional" && cur.n[i] > 0) return false
    setCandle(cur, i, c, ind)
    return true
  }
  if (i !== n - 1) return false // older than the window we hold
  if (n > 0) fillGap(cur, x)
  pushCandle(cur, c, ind, true)
  while (cur.x.length > MAX_LIMIT) dropOldest(cur)
  return true
}
