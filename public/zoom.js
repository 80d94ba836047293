// Zoom and pan, kept identical on the three panes: buttons, keys, the mouse wheel, a drag, a double-click.
import { INTERVALS, RANGES } from "./model.js"
import { els, state } from "./state.js"

const MIN_SLOTS = 60

/**
 * The x range when not zoomed: the chosen range (warm-up candles before it stay off screen, reachable by panning),
 * never less than MIN_SLOTS intervals, ending just after the newest candle, so a fresh start with a few candles
 * still looks like a chart.
 */
export const xWindow = () => {
  const cur = state.candles
  const iv = cur ? INTERVALS[cur.interval] : 60
  const xs = cur ? cur.x : []
  const n = xs.length
  const max = n ? xs[n - 1] + iv * 1.5 : Date.now() / 1000
  const rangeStart = Date.now() / 1000 - RANGES[cur ? cur.range : state.range]
  const first = n ? Math.max(xs[0], Math.floor(rangeStart / iv) * iv) : max
  return [Math.min(first - iv * 0.75, max - iv * MIN_SLOTS), max]
}

/** The whole span the user may pan over: every candle held. */
const xBounds = () => {
  const cur = state.candles
  const w = xWindow()
  if (!cur?.x.length) return w
  return [Math.min(w[0], cur.x[0] - INTERVALS[cur.interval]), w[1]]
}

export const setView = (min, max, zoomed) => {
  state.zoomed = zoomed
  els.chart.setAttribute("data-zoomed", zoomed ? "true" : "false")
  if (!state.charts) return
  state.syncing = true
  try {
    for (const u of Object.values(state.charts)) u.setScale("x", { min, max })
  } finally {
    state.syncing = false
  }
}

export const resetView = () => {
  const [min, max] = xWindow()
  setView(min, max, false)
}

const hasCandles = () => state.charts && state.candles?.x.length

/** factor < 1 zooms in; anchor: the x value that stays put (default: the middle). */
const zoomBy = (factor, anchor) => {
  if (!hasCandles()) return
  const { min, max } = state.charts.price.scales.x
  const spanNow = max - min
  const [lo, hi] = xBounds()
  const next = Math.max(INTERVALS[state.candles.interval] * 8, spanNow * factor)
  if (next >= hi - lo) {
    resetView()
    return
  }
  const a = anchor ?? min + spanNow / 2
  let nmin = a - (a - min) * (next / spanNow)
  let nmax = nmin + next
  if (nmin < lo) {
    nmax += lo - nmin
    nmin = lo
  }
  if (nmax > hi) {
    nmin -= nmax - hi
    nmax = hi
  }
  setView(nmin, nmax, true)
}

const panBy = (fraction) => {
  if (!hasCandles()) return
  const { min, max } = state.charts.price.scales.x
  const spanNow = max - min
  const [lo, hi] = xBounds()
  const nmin = Math.min(Math.max(min + spanNow * fraction, lo), hi - spanNow)
  setView(nmin, nmin + spanNow, true)
}

export const onWheel = (u, ev) => {
  if (!state.candles?.x.length) return
  ev.preventDefault()
  if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
    panBy((ev.shiftKey ? ev.deltaY : ev.deltaX) > 0 ? 0.1 : -0.1)
    return
  }
  const anchor = u.posToVal(ev.clientX - u.over.getBoundingClientRect().left, "x")
  zoomBy(ev.deltaY > 0 ? 1.2 : 1 / 1.2, anchor)
}

const actions = {
  in: () => zoomBy(1 / 1.5),
  out: () => zoomBy(1.5),
  left: () => panBy(-0.25),
  right: () => panBy(0.25),
  reset: resetView
}
const keys = { "+": "in", "=": "in", "-": "out", _: "out", ArrowLeft: "left", ArrowRight: "right" }
for (const k of ["0", "Escape", "Home"]) keys[k] = "reset"

/** The zoom buttons (data-zoom) and the chart's keys. */
export const wireZoom = () => {
  els.zoom.addEventListener("click", (ev) => {
    const what = ev.target.closest("button[data-zoom]")?.getAttribute("data-zoom")
    if (what && Object.hasOwn(actions, what)) actions[what]()
  })
  els.chartFrame.addEventListener("keydown", (ev) => {
    if (ev.target !== els.chartFrame || !Object.hasOwn(keys, ev.key)) return
    actions[keys[ev.key]]()
    ev.preventDefault()
  })
}
