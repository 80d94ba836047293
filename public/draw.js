// What the chart panes draw themselves: candles, volume bars, the RSI band, and the axis labels.
import { fmtPrice, nf } from "./format.js"
import { markedBuckets } from "./gaps.js"
import { INTERVALS, isNum } from "./model.js"
import { els, state } from "./state.js"

const UP = "#26a69a"
const DOWN = "#ef5350"
const FILLED = "#5b6575"
const GAP_BAND = "rgba(255,167,38,0.13)"
const GAP_MARK = "#ffa726"

/** The pane's canvas clipped to its plot area, the candle body width, and the visible x range (one interval wider). */
const frame = (u, cur) => {
  const pxr = window.devicePixelRatio || 1
  const iv = INTERVALS[cur.interval]
  const slot = Math.abs(u.valToPos(iv, "x", true) - u.valToPos(0, "x", true))
  const { left, top, width, height } = u.bbox
  u.ctx.save()
  u.ctx.beginPath()
  u.ctx.rect(left, top, width, height)
  u.ctx.clip()
  return {
    ctx: u.ctx,
    bodyW: Math.max(pxr, Math.min(24 * pxr, Math.floor(slot * 0.7))),
    wickW: Math.max(1, Math.round(pxr)),
    visible: (x) => x >= u.scales.x.min - iv && x <= u.scales.x.max + iv
  }
}

/** How candle i is drawn: flat (a filled bucket), hollow (provisional: it can still change), solid (final). */
export const candleLook = (cur, i) => (cur.n[i] === 0 ? "flat" : cur.st[i] === "provisional" ? "hollow" : "solid")

const drawCandle = (u, f, cur, i, look) => {
  const { ctx, bodyW, wickW } = f
  const [o, h, l, c] = [cur.o[i], cur.h[i], cur.l[i], cur.c[i]]
  const cx = Math.round(u.valToPos(cur.x[i], "x", true))
  if (look === "flat") {
    // a filled bucket (no trade): a flat grey dash at the carried close
    ctx.fillStyle = FILLED
    ctx.fillRect(Math.round(cx - bodyW / 2), Math.round(u.valToPos(c, "y", true)), Math.round(bodyW), wickW)
    return
  }
  const [yO, yC, yH, yL] = [o, c, h, l].map((v) => u.valToPos(v, "y", true))
  const colour = c >= o ? UP : DOWN
  ctx.fillStyle = colour
  ctx.fillRect(cx - wickW / 2, Math.min(yH, yL), wickW, Math.max(1, Math.abs(yL - yH)))
  const hgt = Math.max(wickW, Math.abs(yC - yO))
  const [bx, by, bw, bh] = [
    Math.round(cx - bodyW / 2),
    Math.round(Math.min(yO, yC)),
    Math.round(bodyW),
    Math.round(hgt)
  ]
  if (look === "solid") {
    ctx.fillRect(bx, by, bw, bh)
    return
  }
  // provisional: a dark body inside a coloured outline (the wick stops at the body)
  ctx.fillStyle = "#0b0e14"
  ctx.fillRect(bx, by, bw, bh)
  ctx.strokeStyle = colour
  ctx.lineWidth = wickW
  ctx.strokeRect(bx + wickW / 2, by + wickW / 2, Math.max(wickW, bw - wickW), Math.max(wickW, bh - wickW))
}

/** A bucket touched by an unfilled gap: a band behind it the pane's height and a mark along the top. */
const drawGapMark = (u, f, cur, x) => {
  const { ctx, bodyW } = f
  const slot = Math.abs(u.valToPos(INTERVALS[cur.interval], "x", true) - u.valToPos(0, "x", true))
  const w = Math.max(bodyW + 2, Math.round(slot))
  const cx = Math.round(u.valToPos(x, "x", true))
  ctx.fillStyle = GAP_BAND
  ctx.fillRect(cx - w / 2, u.bbox.top, w, u.bbox.height)
  ctx.fillStyle = GAP_MARK
  ctx.fillRect(cx - w / 2, u.bbox.top, w, Math.max(3, Math.round(3 * (window.devicePixelRatio || 1))))
}

/** What the price pane drew, as attributes (the browser tests read them): hollow and gap-marked buckets, in ms. */
const record = (hollow, marked) => {
  els.chart.setAttribute("data-hollow", hollow.join(","))
  els.chart.setAttribute("data-marked", marked.join(","))
}

export const drawCandles = (u) => {
  const cur = state.candles
  if (!cur?.x.length) return record([], [])
  const f = frame(u, cur)
  const iv = INTERVALS[cur.interval]
  const marked = [...markedBuckets(cur, u.scales.x.min - iv, u.scales.x.max + iv)].sort((a, b) => a - b)
  for (const x of marked) drawGapMark(u, f, cur, x)
  const hollow = []
  for (let i = 0; i < cur.x.length; i++) {
    if (!f.visible(cur.x[i])) continue
    const look = candleLook(cur, i)
    if (look === "hollow") hollow.push(cur.x[i] * 1000)
    drawCandle(u, f, cur, i, look)
  }
  f.ctx.restore()
  record(
    hollow,
    marked.map((x) => x * 1000)
  )
}

export const drawVolume = (u) => {
  const cur = state.candles
  if (!cur?.x.length) return
  const f = frame(u, cur)
  const base = u.valToPos(0, "y", true)
  for (let i = 0; i < cur.x.length; i++) {
    const v = cur.v[i]
    if (!(v > 0) || !f.visible(cur.x[i])) continue
    const cx = Math.round(u.valToPos(cur.x[i], "x", true))
    const vy = u.valToPos(v, "y", true)
    const a = cur.st[i] === "provisional" ? 0.28 : 0.55 // lighter while the candle can still change
    f.ctx.fillStyle = cur.c[i] >= cur.o[i] ? `rgba(38,166,154,${a})` : `rgba(239,83,80,${a})`
    f.ctx.fillRect(Math.round(cx - f.bodyW / 2), vy, Math.round(f.bodyW), Math.max(1, base - vy))
  }
  f.ctx.restore()
}

/** RSI guides: the 30–70 band and its edges. */
export const drawRsiGuides = (u) => {
  const { ctx, bbox } = u
  const y70 = u.valToPos(70, "y", true)
  const y30 = u.valToPos(30, "y", true)
  ctx.save()
  ctx.fillStyle = "rgba(179,157,219,0.07)"
  ctx.fillRect(bbox.left, y70, bbox.width, y30 - y70)
  ctx.strokeStyle = "rgba(179,157,219,0.35)"
  ctx.lineWidth = 1
  ctx.setLineDash([4, 4])
  ctx.beginPath()
  for (const y of [y70, y30]) {
    ctx.moveTo(bbox.left, Math.round(y) + 0.5)
    ctx.lineTo(bbox.left + bbox.width, Math.round(y) + 0.5)
  }
  ctx.stroke()
  ctx.restore()
}

/** As many decimals as the tick step needs: 104,000 for BTC, 0.00002150 for SHIB. */
export const priceAxisValues = (_u, splits, _axisIdx, _space, incr) => {
  const d = isNum(incr) && incr > 0 ? Math.min(12, Math.max(0, Math.ceil(-Math.log10(incr) - 1e-9))) : 2
  const f = nf(d, d)
  return splits.map((v) => (v == null ? "" : f.format(v)))
}

/** One line of time labels: 13:05, or the date where a new day starts (and for daily candles). */
export const timeValues = (_u, splits, _axisIdx, _space, incr) => {
  let prevDay = null
  return splits.map((s) => {
    if (s == null) return ""
    const d = new Date(s * 1000)
    const day = d.toDateString()
    const label =
      incr >= 86400 || (prevDay !== null && day !== prevDay)
        ? d.toLocaleDateString([], { month: "short", day: "numeric" })
        : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    prevDay = day
    return label
  })
}

/** Every pane gets the same right-axis width, so their plot areas line up. */
export const axisSize = (cur) => Math.max(44, Math.ceil(fmtPrice(Math.max(0, ...cur.h) || 1).length * 6.6) + 18)
