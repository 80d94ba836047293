// What the chart panes draw themselves: candles, volume bars, the RSI band, and the axis labels.
import { fmtPrice, nf } from "./format.js"
import { INTERVALS, isNum } from "./model.js"
import { state } from "./state.js"

const UP = "#26a69a"
const DOWN = "#ef5350"
const FILLED = "#5b6575"

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

const drawCandle = (u, f, cur, i) => {
  const { ctx, bodyW, wickW } = f
  const [o, h, l, c] = [cur.o[i], cur.h[i], cur.l[i], cur.c[i]]
  const cx = Math.round(u.valToPos(cur.x[i], "x", true))
  if (cur.n[i] === 0) {
    // a filled bucket (no trade): a flat grey dash at the carried close
    ctx.fillStyle = FILLED
    ctx.fillRect(Math.round(cx - bodyW / 2), Math.round(u.valToPos(c, "y", true)), Math.round(bodyW), wickW)
    return
  }
  const [yO, yC, yH, yL] = [o, c, h, l].map((v) => u.valToPos(v, "y", true))
  ctx.fillStyle = c >= o ? UP : DOWN
  ctx.fillRect(cx - wickW / 2, Math.min(yH, yL), wickW, Math.max(1, Math.abs(yL - yH)))
  const hgt = Math.max(wickW, Math.abs(yC - yO))
  ctx.fillRect(Math.round(cx - bodyW / 2), Math.round(Math.min(yO, yC)), Math.round(bodyW), Math.round(hgt))
}

export const drawCandles = (u) => {
  const cur = state.candles
  if (!cur?.x.length) return
  const f = frame(u, cur)
  for (let i = 0; i < cur.x.length; i++) if (f.visible(cur.x[i])) drawCandle(u, f, cur, i)
  f.ctx.restore()
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
    f.ctx.fillStyle = cur.c[i] >= cur.o[i] ? "rgba(38,166,154,0.55)" : "rgba(239,83,80,0.55)"
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
