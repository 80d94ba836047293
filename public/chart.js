// The chart: three uPlot panes sharing the x axis (price with its overlays, volume, RSI), drawn from the series.
import { axisSize, drawCandles, drawRsiGuides, drawVolume, priceAxisValues, timeValues } from "./draw.js"
import { fmtCompact } from "./format.js"
import { showGaps } from "./gaps.js"
import { baseOf, isMarket } from "./model.js"
import { readout, updateTooltip } from "./readout.js"
import { els, state } from "./state.js"
import { onWheel, resetView, setView, xWindow } from "./zoom.js"

/** Price pane columns: 0 x, 1 open, 2 high, 3 low, 4 close, then the overlays. */
const PRICE_COL = { sma20: 5, sma50: 6, ema12: 7, ema26: 8, bbUpper: 9, bbLower: 10 }
const OVERLAYS = [
  { key: "sma20", label: "SMA 20", color: "#f0b90b", cols: ["sma20"] },
  { key: "sma50", label: "SMA 50", color: "#42a5f5", cols: ["sma50"] },
  { key: "ema12", label: "EMA 12", color: "#ce93d8", cols: ["ema12"], dash: [5, 3] },
  { key: "ema26", label: "EMA 26", color: "#ff8a65", cols: ["ema26"], dash: [5, 3] },
  { key: "bb", label: "BB 20/2", color: "#8fa3bf", cols: ["bbUpper", "bbLower"], dash: [2, 3] }
]

/** #chart's data-state: loading | ready | empty | error. */
export const setChartState = (st, text) => {
  for (const pane of [els.chart, els.volume, els.rsi]) pane.setAttribute("data-state", st)
  els.chartFrame.classList.toggle("loading", st === "loading")
  els.chartMessage.textContent = text || ""
  els.chartMessage.hidden = !text
}

const paneSize = (el) => ({ width: Math.max(200, el.clientWidth), height: Math.max(60, el.clientHeight) })

const priceData = (cur) => [cur.x, cur.o, cur.h, cur.l, cur.c, ...Object.keys(PRICE_COL).map((k) => cur.ind[k])]
const volumeData = (cur) => [cur.x, cur.v]
const rsiData = (cur) => [cur.x, cur.ind.rsi14]

const axis = {
  stroke: "#7d8898",
  font: "11px system-ui, sans-serif",
  grid: { stroke: "rgba(255,255,255,0.06)", width: 1 },
  ticks: { stroke: "rgba(255,255,255,0.12)", width: 1, size: 4 }
}

/** The x axis is labelled under the last pane only; the upper panes keep its grid. */
const quietXAxis = { ...axis, space: 70, size: 4, values: (_u, splits) => splits.map(() => ""), ticks: { show: false } }

/** uPlot auto-ranges x to the data; ours is the chosen range. Any other min/max is a zoom: keep it. */
const xRange = (_u, min, max) => {
  if (min == null || max == null || !state.candles?.x.length) return xWindow()
  return state.syncing || state.zoomed ? [min, max] : xWindow()
}

/** The cursor moves on every pane at once; zoom and pan are spread by setView (a synced drag would zoom twice). */
const cursor = () => ({
  points: { show: false },
  drag: { x: true, y: false, setScale: false },
  sync: {
    key: "candles",
    scales: ["x", null],
    filters: { pub: (type) => type === "mousemove" || type === "mouseleave" || type === "mouseenter" }
  }
})

/** A drag selects; it applies as a zoom to every pane. */
const onSelect = (u) => {
  if (u.select.width <= 0) return
  const min = u.posToVal(u.select.left, "x")
  const max = u.posToVal(u.select.left + u.select.width, "x")
  u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false)
  setView(min, max, true)
}

const onInit = (u) => {
  u.over.addEventListener("dblclick", () => resetView())
  u.over.addEventListener("wheel", (ev) => onWheel(u, ev), { passive: false })
}

/** What every pane shares; pane: its y scale, axes, series and hooks. */
const paneOpts = (el, pane) => ({
  ...paneSize(el),
  legend: { show: false },
  cursor: cursor(),
  scales: { x: { time: true, range: xRange }, y: pane.y },
  axes: [pane.xAxis ?? quietXAxis, { ...axis, scale: "y", side: 1, size: () => state.axisSize, ...pane.yAxis }],
  series: [{}, ...pane.series],
  bands: pane.bands,
  hooks: { setSelect: [onSelect], init: [onInit], ...pane.hooks }
})

const hidden = (label) => ({ label, scale: "y", paths: () => null, points: { show: false } })
const line = (label, color, dash) => ({
  label,
  scale: "y",
  stroke: color,
  width: 1.25,
  dash,
  points: { show: false },
  spanGaps: false
})

const pricePane = () => ({
  y: {
    auto: true,
    range: (_u, min, max) => {
      if (min == null || max == null) return [0, 1]
      const s = max - min || Math.abs(max) * 0.01 || 1
      return [min - s * 0.06, max + s * 0.06]
    }
  },
  yAxis: { values: priceAxisValues },
  series: [
    ...["Open", "High", "Low", "Close"].map(hidden),
    ...OVERLAYS.flatMap((ov) =>
      (ov.key === "bb" ? ["BB upper", "BB lower"] : [ov.label]).map((l) => line(l, ov.color, ov.dash))
    )
  ],
  bands: [{ series: [PRICE_COL.bbUpper, PRICE_COL.bbLower], fill: "rgba(143,163,191,0.09)" }],
  hooks: {
    draw: [drawCandles],
    setCursor: [
      (u) => {
        readout(u.cursor.idx)
        showGaps(u.cursor.left != null && u.cursor.left >= 0 ? u.cursor.idx : null)
        updateTooltip(u)
      }
    ],
    setData: [() => readout(null)]
  }
})

const volumePane = () => ({
  y: { auto: true, range: (_u, _min, max) => [0, Math.max(1e-12, (max || 0) * 1.1)] },
  yAxis: { values: (_u, splits) => splits.map((v) => (v == null ? "" : fmtCompact(v))), space: 24 },
  series: [hidden("Volume")],
  hooks: { draw: [drawVolume] }
})

const rsiPane = () => ({
  y: { auto: false, range: () => [0, 100] },
  xAxis: { ...axis, space: 70, size: 26, values: timeValues },
  yAxis: { splits: () => [30, 50, 70], values: (_u, splits) => splits.map(String) },
  series: [line("RSI 14", "#b39ddb")],
  hooks: { drawAxes: [drawRsiGuides] }
})

const makeCharts = (cur) => {
  const U = window.uPlot
  state.charts = {
    price: new U(paneOpts(els.chart, pricePane()), priceData(cur), els.chart),
    volume: new U(paneOpts(els.volume, volumePane()), volumeData(cur), els.volume),
    rsi: new U(paneOpts(els.rsi, rsiPane()), rsiData(cur), els.rsi)
  }
  applyOverlays()
}

/** Each overlay button's state on its series; #chart's data-overlays lists those shown. */
export const applyOverlays = () => {
  const shown = OVERLAYS.filter((ov) => state.overlays[ov.key]).map((ov) => ov.key)
  for (const ov of OVERLAYS) {
    const on = shown.includes(ov.key)
    els.overlays.querySelector(`button[data-overlay="${ov.key}"]`)?.setAttribute("aria-pressed", on ? "true" : "false")
    for (const col of state.charts ? ov.cols : []) {
      const idx = PRICE_COL[col]
      if (state.charts.price.series[idx].show !== on) state.charts.price.setSeries(idx, { show: on })
    }
  }
  els.chart.setAttribute("data-overlays", shown.join(" "))
}

const countNonNull = (a) => a.filter((v) => v != null).length

/** What the chart shows, as attributes (the browser tests read them): what, how many, the newest candle as drawn. */
const describe = (cur) => {
  const n = cur.x.length
  els.chart.setAttribute("data-symbol", baseOf(cur.market))
  els.chart.setAttribute("data-market", isMarket(cur.market) ? cur.market : "")
  els.chart.setAttribute("data-interval", cur.interval)
  els.chart.setAttribute("data-range", cur.range)
  els.chart.setAttribute("data-candles", String(n))
  els.chart.setAttribute("data-last-bucket", n ? String(cur.x[n - 1] * 1000) : "")
  els.chart.setAttribute("data-last-close", n ? String(cur.c[n - 1]) : "")
  els.chart.setAttribute("data-indicator-points", String(countNonNull(cur.ind.sma20)))
  els.volume.setAttribute("data-points", String(cur.v.filter((v) => v > 0).length))
  els.rsi.setAttribute("data-points", String(countNonNull(cur.ind.rsi14)))
}

/** Draws the series; fresh: a new series (it starts unzoomed), else a live update (a zoom stays as it is). */
export const renderChart = (fresh) => {
  const cur = state.candles
  if (!cur) return
  describe(cur)
  if (!window.uPlot) {
    setChartState("error", "Chart library failed to load")
    return
  }
  const n = cur.x.length
  setChartState(n ? "ready" : "empty", n ? "" : `No candles yet for ${cur.market} · ${cur.interval}`)
  state.axisSize = axisSize(cur)
  if (fresh) {
    state.zoomed = false
    els.chart.setAttribute("data-zoomed", "false")
  }
  if (!state.charts) {
    makeCharts(cur)
    return
  }
  const { price, volume, rsi } = state.charts
  const keep = state.zoomed ? [price.scales.x.min, price.scales.x.max] : null
  state.syncing = !!keep
  try {
    price.setData(priceData(cur), true)
    volume.setData(volumeData(cur), true)
    rsi.setData(rsiData(cur), true)
  } finally {
    state.syncing = false
  }
  if (keep) setView(keep[0], keep[1], true)
  if (!price.cursor.left || price.cursor.left < 0) readout(null)
}

/** Redraws the price pane (its gap marks changed), the data as it is. */
export const redrawPrice = () => state.charts?.price.redraw(false, false)

export const resizeCharts = () => {
  if (!state.charts) return
  state.charts.price.setSize(paneSize(els.chart))
  state.charts.volume.setSize(paneSize(els.volume))
  state.charts.rsi.setSize(paneSize(els.rsi))
}
