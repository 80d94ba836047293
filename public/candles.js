// The chart's candles: the history with its indicator values (GET /api/candles, through htmx), then live updates.
import { redrawPrice, renderChart, setChartState } from "./chart.js"
import { forgetChecks, pollChecks } from "./checks.js"
import { loadGaps } from "./gaps.js"
import {
  asCandle,
  asIndicators,
  baseOf,
  INTERVALS,
  isMarket,
  isOf,
  MAX_LIMIT,
  parseJson,
  RANGES,
  WARMUP
} from "./model.js"
import { adoptMarket } from "./selection.js"
import { emptySeries, mergeCandle, pushCandle } from "./series.js"
import { els, state } from "./state.js"

/** From the start of the range (aligned to the interval) minus WARMUP candles, filled, with indicator values. */
const candlesUrl = () => {
  const iv = INTERVALS[state.interval]
  const rangeSec = RANGES[state.range]
  const from = (Math.floor((Date.now() / 1000 - rangeSec) / iv) - WARMUP) * iv
  const limit = Math.min(MAX_LIMIT, Math.ceil(rangeSec / iv) + WARMUP + 2)
  const query = new URLSearchParams({ interval: state.interval, from: String(from * 1000), limit: String(limit) })
  return `/api/candles/${encodeURIComponent(pathOf(state.market))}?${query}&fill=true&indicators=true`
}

/** A market in the path (`:` as %3A); to a server without markets, its symbol. */
const pathOf = (sel) => (state.marketsApi === false ? baseOf(sel) : sel)

const showLoading = () => {
  const cur = state.candles
  if (!cur || cur.market !== state.market || cur.interval !== state.interval || cur.range !== state.range) {
    setChartState("loading", `Loading ${state.market} · ${state.interval} · ${state.range}…`)
  }
}

/** The address of a candles request about to go (htmx:configRequest): the current selection's; null: none. */
export const candlesRequest = () => {
  if (!state.market) return null
  clearTimeout(state.candleRetry)
  state.pendingUrl = candlesUrl()
  showLoading()
  forgetChecks()
  return state.pendingUrl
}

/** Loads the selection's candles: an htmx request (its htmx:configRequest points it at the selection), else fetch. */
export const loadCandles = () => {
  clearTimeout(state.candleRetry)
  if (!state.market) return
  if (window.htmx) {
    window.htmx.ajax("GET", "/api/candles", { source: els.chartFrame, swap: "none" })?.catch?.(() => {
      /* reported through htmx:afterRequest */
    })
    return
  }
  const url = candlesRequest()
  fetch(url, { headers: { Accept: "application/json" } })
    .then((res) => res.text().then((text) => onCandlesResponse(url, res.status, text)))
    .catch(() => onCandlesResponse(url, 0, ""))
}

const onFailure = (status) => {
  setChartState(
    "error",
    status === 503
      ? "History temporarily unavailable — retrying"
      : `Could not load candles${status ? ` (HTTP ${status})` : ""}`
  )
  if (status === 503 || status === 0) {
    clearTimeout(state.candleRetry)
    state.candleRetry = setTimeout(loadCandles, 5000)
  }
}

/** The history of the selection, then the live candles that came while it loaded. */
const seriesOf = (body) => {
  const cur = emptySeries(state.market, state.interval, state.range)
  const inds = Array.isArray(body.indicators) && body.indicators.length === body.candles.length ? body.indicators : null
  let last = -Infinity
  body.candles.forEach((raw, i) => {
    const c = asCandle(raw)
    if (!c || !isOf(c, cur.market) || c.interval !== cur.interval || c.bucketStart <= last) return
    last = c.bucketStart
    pushCandle(cur, c, asIndicators(inds ? inds[i] : null))
  })
  for (const c of state.pendingCandles) if (isOf(c, cur.market) && c.interval === cur.interval) mergeCandle(cur, c)
  state.pendingCandles = []
  return cur
}

/** Whether an answer is the selection's: its market; for a bare symbol, the market the server chose for it. */
const answers = (body) => (isMarket(state.market) ? isOf(body, state.market) : body.symbol === state.market)

export const onCandlesResponse = (url, status, text) => {
  if (url !== state.pendingUrl) return // the answer to an older request
  const body = parseJson(text)
  if (status !== 200 || !body || !Array.isArray(body.candles)) {
    onFailure(status)
    return
  }
  if (body.interval !== state.interval || !answers(body)) return // a stale answer
  adoptMarket(body)
  state.candles = seriesOf(body)
  renderChart(true)
  // what the candles say about completeness, beside them: the market's gaps and its checks
  loadGaps(redrawPrice)
  pollChecks()
}

/** A live candle (SSE); for a selection whose history is on its way, kept for when it lands. */
export const applyCandle = (c) => {
  const cur = state.candles
  if (!cur || !isOf(c, cur.market) || c.interval !== cur.interval || cur.range !== state.range) {
    if (isOf(c, state.market) && c.interval === state.interval && state.pendingCandles.length < 1000) {
      state.pendingCandles.push(c)
    }
    return
  }
  if (mergeCandle(cur, c) && !drawFrame) drawFrame = requestAnimationFrame(drawLive)
}

// Live candles of a market with many trades come many a second: the chart is drawn once per animation frame.
let drawFrame = 0
const drawLive = () => {
  drawFrame = 0
  renderChart(false)
}
