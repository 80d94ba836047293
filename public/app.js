/* Crypto price pipeline dashboard (native ES modules, no build step).
 * Data: /api/markets (each market's venue and state; 10 s poll), /api/latest (initial fill + 10 s poll for cache
 * health), /api/events (SSE ticks and trades, candles with their indicator values, gaps, status), /ready (the status
 * bar: each dependency's state), /api/candles/:market?fill=true&indicators=true (chart history with its indicator
 * values, requested through htmx when it is loaded, plain fetch otherwise).
 * The browser computes no indicator: every value on the chart is the server's.
 * Everything from the server is inserted with textContent / setAttribute: never as HTML. */
import { pollMarkets } from "./catalog.js"
import { applyOverlays, resizeCharts } from "./chart.js"
import { connect } from "./feed.js"
import { tickAges } from "./markets.js"
import { maybeSelectDefault, wireSelection } from "./selection.js"
import { pollLatest } from "./snapshot.js"
import { bindElements, els, state } from "./state.js"
import { pollReady, setStatus } from "./status.js"
import { wireZoom } from "./zoom.js"

const wireOverlays = () => {
  els.overlays.addEventListener("click", (ev) => {
    const key = ev.target.closest("button[data-overlay]")?.getAttribute("data-overlay")
    if (!key || !Object.hasOwn(state.overlays, key)) return
    state.overlays[key] = !state.overlays[key]
    applyOverlays()
  })
  els.chartFrame.addEventListener("mouseleave", () => {
    els.tooltip.hidden = true
  })
}

bindElements()
wireSelection()
setStatus(false)
applyOverlays()
wireOverlays()
wireZoom()
if (window.ResizeObserver) new ResizeObserver(resizeCharts).observe(els.chart)
setInterval(() => {
  tickAges()
  maybeSelectDefault()
}, 1000)
pollReady()
// whether the server knows markets decides how the first selection is asked for: ask that first
pollMarkets().then(() => {
  pollLatest()
  connect()
})
