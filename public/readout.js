// The OHLC line above the chart (the hovered candle, else the newest) and the tooltip with every indicator value.
import { fmtBucket, fmtChange, fmtCompact, fmtPrice, nf } from "./format.js"
import { els, state } from "./state.js"

const span = (cls, label, value) => {
  const s = document.createElement("span")
  if (cls) s.className = cls
  if (label) s.append(`${label} `)
  const b = document.createElement("b")
  b.textContent = value
  s.append(b)
  return s
}

const changeOf = (cur, i) => fmtChange(cur.o[i] ? ((cur.c[i] - cur.o[i]) / cur.o[i]) * 100 : 0)

export const readout = (idx) => {
  const cur = state.candles
  els.ohlc.textContent = ""
  if (!cur?.x.length) return
  const i = idx == null || idx < 0 || idx >= cur.x.length ? cur.x.length - 1 : idx
  const dir = cur.c[i] >= cur.o[i] ? "up" : "down"
  const t = document.createElement("span")
  t.className = "time"
  t.textContent = fmtBucket(cur.x[i], cur.interval)
  const ch = span(null, "", changeOf(cur, i))
  ch.firstChild.className = dir
  els.ohlc.append(
    t,
    span(dir, "O", fmtPrice(cur.o[i])),
    span(dir, "H", fmtPrice(cur.h[i])),
    span(dir, "L", fmtPrice(cur.l[i])),
    span(dir, "C", fmtPrice(cur.c[i])),
    ch
  )
  if (cur.v[i] > 0) els.ohlc.append(span(null, "V", fmtCompact(cur.v[i])))
}

const tooltipRow = (label, value, cls) => {
  const row = document.createElement("div")
  row.className = cls ? `tt-row ${cls}` : "tt-row"
  const k = document.createElement("span")
  k.textContent = label
  const v = document.createElement("b")
  v.textContent = value
  row.append(k, v)
  return row
}

const orDash = (v) => (v == null ? "—" : fmtPrice(v))

const tooltipRows = (cur, i) => {
  const dir = cur.c[i] >= cur.o[i] ? "up" : "down"
  const ind = cur.ind
  const bands = ind.bbUpper[i] == null ? "—" : `${orDash(ind.bbLower[i])} – ${orDash(ind.bbUpper[i])}`
  return [
    tooltipRow("Open", fmtPrice(cur.o[i]), dir),
    tooltipRow("High", fmtPrice(cur.h[i]), dir),
    tooltipRow("Low", fmtPrice(cur.l[i]), dir),
    tooltipRow("Close", fmtPrice(cur.c[i]), dir),
    tooltipRow("Change", changeOf(cur, i), dir),
    tooltipRow("Volume", fmtCompact(cur.v[i])),
    tooltipRow("SMA 20", orDash(ind.sma20[i]), "ind sma20"),
    tooltipRow("SMA 50", orDash(ind.sma50[i]), "ind sma50"),
    tooltipRow("EMA 12", orDash(ind.ema12[i]), "ind ema12"),
    tooltipRow("EMA 26", orDash(ind.ema26[i]), "ind ema26"),
    tooltipRow("BB 20/2", bands, "ind bb"),
    tooltipRow("RSI 14", ind.rsi14[i] == null ? "—" : nf(1, 1).format(ind.rsi14[i]), "ind rsi")
  ]
}

/** In the top corner of the price pane away from the cursor, so it never hides the candle it describes. */
const placeTooltip = (u, left) => {
  const tt = els.tooltip
  const frame = els.chartFrame.getBoundingClientRect()
  const over = u.over.getBoundingClientRect()
  const overLeft = over.left - frame.left
  const pos = left > over.width / 2 ? overLeft + 8 : overLeft + over.width - tt.offsetWidth - 8
  tt.style.left = `${Math.round(Math.max(4, pos))}px`
  tt.style.top = `${Math.round(over.top - frame.top + 8)}px`
}

export const updateTooltip = (u) => {
  const cur = state.candles
  const i = u.cursor.idx
  const left = u.cursor.left
  const tt = els.tooltip
  if (!cur || i == null || i < 0 || i >= cur.x.length || left == null || left < 0) {
    tt.hidden = true
    tt.removeAttribute("data-idx")
    tt.removeAttribute("data-bucket")
    return
  }
  const head = document.createElement("div")
  head.className = "tt-time"
  const status = cur.st[i] === "final" ? "" : ` · ${cur.st[i] === "gap" ? "gap: trades missing" : cur.st[i]}`
  head.textContent = fmtBucket(cur.x[i], cur.interval) + (cur.n[i] === 0 ? " · no trades" : "") + status
  tt.setAttribute("data-status", cur.st[i])
  tt.replaceChildren(head, ...tooltipRows(cur, i))
  if (cur.live[i]) {
    const note = document.createElement("div")
    note.className = "tt-note"
    note.textContent = "indicators provisional (live)"
    tt.append(note)
  }
  tt.append(els.chartGaps) // the hovered bucket's unfilled gaps (gaps.js), hidden when none
  tt.setAttribute("data-idx", String(i))
  tt.setAttribute("data-bucket", String(cur.x[i] * 1000))
  tt.hidden = false
  placeTooltip(u, left)
}
