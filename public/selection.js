// What is charted: symbol (a row, the picker, ?symbol=), interval and range; the pickers ask for candles through htmx.
import { candlesRequest, loadCandles, onCandlesResponse } from "./candles.js"
import { updateChartPrice } from "./markets.js"
import { INTERVALS, RANGES, SYMBOL_RE } from "./model.js"
import { els, state } from "./state.js"

const pressOnly = (container, attr, value) => {
  for (const b of container.querySelectorAll(`button[${attr}]`)) {
    b.setAttribute("aria-pressed", b.getAttribute(attr) === value ? "true" : "false")
  }
}

/** The table row, the pickers, the chart's title and the address show the selection. */
export const syncSelectionUi = () => {
  for (const [sym, row] of state.rows) row.tr.setAttribute("aria-selected", sym === state.symbol ? "true" : "false")
  pressOnly(els.intervals, "data-interval", state.interval)
  pressOnly(els.ranges, "data-range", state.range)
  els.chartTitle.textContent = state.symbol ? `${state.symbol} · ${state.interval}` : "Chart"
  els.chartTitle.setAttribute("data-symbol", state.symbol || "")
  els.chartTitle.setAttribute("data-interval", state.interval)
  if (!state.symbol) return
  els.symbolPicker.value = state.symbol
  const params = new URLSearchParams(location.search)
  params.set("symbol", state.symbol)
  params.set("interval", state.interval)
  params.set("range", state.range)
  history.replaceState(null, "", `?${params}`)
}

const changed = () => {
  state.pendingCandles = []
  syncSelectionUi()
  updateChartPrice()
}

/** What a picker (data-pick="symbol" | "interval" | "range") sets, when its value is valid. */
const picks = {
  symbol: { key: "symbol", value: (elt) => elt.value, valid: (v) => SYMBOL_RE.test(v) },
  interval: {
    key: "interval",
    value: (elt) => elt.getAttribute("data-interval"),
    valid: (v) => Object.hasOwn(INTERVALS, v)
  },
  range: { key: "range", value: (elt) => elt.getAttribute("data-range"), valid: (v) => Object.hasOwn(RANGES, v) }
}

/** A picker's choice; true when the selection changed. */
const applyPick = (elt) => {
  const pick = picks[elt.getAttribute("data-pick")]
  const v = pick?.value(elt)
  if (!pick || typeof v !== "string" || !pick.valid(v) || v === state[pick.key]) return false
  state[pick.key] = v
  changed()
  return true
}

export const selectSymbol = (symbol) => {
  if (!symbol) return
  state.symbol = symbol
  changed()
  loadCandles()
}

/**
 * The ?symbol= of the address when we have it, else BTC, else the first row: once the snapshot has answered,
 * or, when it could not (cache down), after a few seconds of live ticks.
 */
export const maybeSelectDefault = () => {
  if (state.symbol || !state.rows.size) return
  const wanted = new URLSearchParams(location.search).get("symbol")
  if (wanted && state.rows.has(wanted)) return selectSymbol(wanted)
  if (!state.snapshotSettled) return
  const waited = Date.now() - state.snapshotSettled
  if (wanted && waited < 3000) return
  if (state.rows.has("BTC")) return selectSymbol("BTC")
  if (state.snapshotOk || waited >= 3000) selectSymbol(state.order[0])
}

/** On a phone the chart sits below the table: bring it into view when the user picks a row. */
const revealChart = () => {
  const panel = els.chartFrame.closest(".chart-panel")
  if (!panel || !window.matchMedia?.("(max-width: 1099px)").matches) return
  if (panel.getBoundingClientRect().top > window.innerHeight * 0.6) {
    const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches
    panel.scrollIntoView({ behavior: reduce ? "auto" : "smooth", block: "start" })
  }
}

const wireRows = () => {
  const pickRow = (ev) => {
    const symbol = ev.target.closest("tr[data-symbol]")?.getAttribute("data-symbol")
    if (symbol && symbol !== state.symbol) selectSymbol(symbol)
    return symbol
  }
  els.tbody.addEventListener("click", (ev) => {
    if (pickRow(ev)) revealChart()
  })
  els.tbody.addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest("tr[data-symbol]")) {
      ev.preventDefault()
      pickRow(ev)
    }
  })
}

/**
 * Every candles request, from a picker's hx-get or from loadCandles: apply the picker's choice, then ask for the
 * current selection (symbol in the path, the range as `from`). The JSON answer (hx-swap="none") is drawn here.
 * Without htmx (it failed to load), the pickers apply the choice and fetch themselves.
 */
const wirePickers = () => {
  const pickFallback = (ev) => {
    const elt = ev.target.closest("[data-pick]")
    if (!window.htmx && elt && applyPick(elt)) loadCandles()
  }
  els.intervals.addEventListener("click", pickFallback)
  els.ranges.addEventListener("click", pickFallback)
  els.symbolPicker.addEventListener("change", pickFallback)

  document.body.addEventListener("htmx:configRequest", (ev) => {
    const d = ev.detail
    if (typeof d?.path !== "string" || !d.path.startsWith("/api/candles")) return
    if (d.elt?.hasAttribute?.("data-pick")) applyPick(d.elt)
    const path = candlesRequest()
    if (path === null) ev.preventDefault()
    else d.path = path
  })
  document.body.addEventListener("htmx:afterRequest", (ev) => {
    const d = ev.detail
    const path = d?.pathInfo?.requestPath
    if (path?.startsWith("/api/candles/") && d.xhr) onCandlesResponse(path, d.xhr.status, d.xhr.responseText)
  })
}

export const wireSelection = () => {
  const params = new URLSearchParams(location.search)
  if (Object.hasOwn(INTERVALS, params.get("interval") ?? "")) state.interval = params.get("interval")
  if (Object.hasOwn(RANGES, params.get("range") ?? "")) state.range = params.get("range")
  syncSelectionUi()
  wireRows()
  wirePickers()
}
