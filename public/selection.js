// What is charted: a market (a row, the picker, ?market= or a bare ?symbol=), interval and range; the pickers ask for
// candles through htmx.
import { candlesRequest, loadCandles, onCandlesResponse } from "./candles.js"
import { venueLabel } from "./format.js"
import { updateChartPrice } from "./markets.js"
import { baseOf, INTERVALS, isMarket, marketParts, RANGES, SYMBOL_RE } from "./model.js"
import { els, state } from "./state.js"
import { resetTape } from "./tape.js"

const pressOnly = (container, attr, value) => {
  for (const b of container.querySelectorAll(`button[${attr}]`)) {
    b.setAttribute("aria-pressed", b.getAttribute(attr) === value ? "true" : "false")
  }
}

/** The table row, the pickers, the chart's title and the address show the selection. */
export const syncSelectionUi = () => {
  const sel = state.market
  for (const [m, row] of state.rows) row.tr.setAttribute("aria-selected", m === sel ? "true" : "false")
  pressOnly(els.intervals, "data-interval", state.interval)
  pressOnly(els.ranges, "data-range", state.range)
  els.chartTitle.textContent = sel ? `${titleOf(sel)} · ${state.interval}` : "Chart"
  els.chartTitle.setAttribute("data-symbol", sel ? baseOf(sel) : "")
  els.chartTitle.setAttribute("data-market", isMarket(sel) ? sel : "")
  els.chartTitle.setAttribute("data-interval", state.interval)
  resetTape()
  if (!sel) return
  els.marketPicker.value = state.rows.has(sel) ? sel : ""
  // a market, or a bare symbol (the server's default market for it, or a server without markets)
  const key = state.marketsApi === false ? baseOf(sel) : sel
  const params = new URLSearchParams(location.search)
  params.delete(isMarket(key) ? "symbol" : "market")
  params.set(isMarket(key) ? "market" : "symbol", key)
  params.set("interval", state.interval)
  params.set("range", state.range)
  history.replaceState(null, "", `?${params}`)
}

/** BTC-USDT · Binance; from a server without markets (each symbol has one market), the symbol says enough. */
const titleOf = (sel) => {
  const p = marketParts(sel)
  return p && state.marketsApi !== false ? `${p.base}-${p.quote} · ${venueLabel(p.venue)}` : baseOf(sel)
}

const changed = () => {
  state.pendingCandles = []
  syncSelectionUi()
  updateChartPrice()
}

/** What a picker (data-pick="market" | "interval" | "range") sets, when its value is valid. */
const picks = {
  market: { key: "market", value: (elt) => elt.value, valid: (v) => isMarket(v) },
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

export const selectMarket = (market) => {
  if (!market) return
  state.market = market
  changed()
  loadCandles()
}

/**
 * A candles answer for a bare symbol names the market the server chose for it: that is the selection now. From a
 * server without markets, the symbol's one row is.
 */
export const adoptMarket = (body) => {
  if (isMarket(state.market)) return
  const rows = [...state.rows.keys()].filter((m) => baseOf(m) === state.market)
  const market = isMarket(body.market) ? body.market : rows.length === 1 ? rows[0] : null
  if (market === null) return
  state.market = market
  syncSelectionUi()
  updateChartPrice()
}

const hasBase = (symbol) => [...state.rows.keys()].some((m) => baseOf(m) === symbol)

/** ?market=, else ?symbol= (a market, or a bare symbol), when valid. */
const wantedOf = () => {
  const params = new URLSearchParams(location.search)
  const wanted = params.get("market") ?? params.get("symbol")
  return wanted && (isMarket(wanted) || SYMBOL_RE.test(wanted)) ? wanted : null
}

/**
 * The market of the address when we have it (a bare symbol: the server's default market for it), else BTC's, else
 * the first row: once the snapshot has answered, or, when it could not (cache down), after a few seconds of ticks.
 */
export const maybeSelectDefault = () => {
  if (state.market || !state.rows.size) return
  const wanted = wantedOf()
  if (wanted && (isMarket(wanted) ? state.rows.has(wanted) : hasBase(wanted))) return selectMarket(wanted)
  if (!state.snapshotSettled) return
  const waited = Date.now() - state.snapshotSettled
  if (wanted && waited < 3000) return
  if (hasBase("BTC")) return selectMarket("BTC")
  if (state.snapshotOk || waited >= 3000) selectMarket(state.order[0])
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
    const market = ev.target.closest("tr[data-market]")?.getAttribute("data-market")
    if (market && market !== state.market) selectMarket(market)
    return market
  }
  els.tbody.addEventListener("click", (ev) => {
    if (pickRow(ev)) revealChart()
  })
  els.tbody.addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest("tr[data-market]")) {
      ev.preventDefault()
      pickRow(ev)
    }
  })
}

/**
 * Every candles request, from a picker's hx-get or from loadCandles: apply the picker's choice, then ask for the
 * current selection (market in the path, the range as `from`). The JSON answer (hx-swap="none") is drawn here.
 * Without htmx (it failed to load), the pickers apply the choice and fetch themselves.
 */
const wirePickers = () => {
  const pickFallback = (ev) => {
    const elt = ev.target.closest("[data-pick]")
    if (!window.htmx && elt && applyPick(elt)) loadCandles()
  }
  els.intervals.addEventListener("click", pickFallback)
  els.ranges.addEventListener("click", pickFallback)
  els.marketPicker.addEventListener("change", pickFallback)

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
