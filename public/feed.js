// The live feed: GET /api/events (server-sent events `tick`, `candle`, `final`, `gap`, `status`, `reset`), reconnected
// with backoff.
import { applyCandle, loadCandles } from "./candles.js"
import { redrawPrice } from "./chart.js"
import { addGap } from "./gaps.js"
import { applyTick } from "./markets.js"
import { asCandle, asGap, asTick, parseJson } from "./model.js"
import { maybeSelectDefault } from "./selection.js"
import { pollLatest } from "./snapshot.js"
import { state } from "./state.js"
import { pollReady, setBanner, setSource, setStatus } from "./status.js"
import { tapeGap, tapeTick } from "./tape.js"

const onOpen = () => {
  setStatus(true)
  state.esRetryMs = 1000
  if (state.everOpened) {
    // we may have missed updates while away: refresh the snapshot, the chart and the dependencies
    pollLatest()
    loadCandles()
    pollReady()
  }
  state.everOpened = true
}

const onTick = (ev) => {
  const t = asTick(parseJson(ev.data))
  if (!t) return
  applyTick(t, true)
  tapeTick(t)
  state.lastSourceAt = Date.now()
  setSource(t.source)
  maybeSelectDefault()
}

/** A candle with its indicator values, as the processor computed them; `final`: the candle as it stays (final or gap). */
const onCandle = (ev) => {
  const c = asCandle(parseJson(ev.data))
  if (c) applyCandle(c)
}

/** Trade ids a venue could not deliver: marked on the tape of their market. */
const onGap = (ev) => {
  const g = asGap(parseJson(ev.data))
  if (!g) return
  tapeGap(g)
  if (addGap(g)) redrawPrice()
}

/** The server could not replay what we missed (its buffer moved on, or it restarted): reload the chart. */
const onReset = () => {
  loadCandles()
}

const onStatus = (ev) => {
  const s = parseJson(ev.data)
  if (!s || typeof s !== "object") return
  if (s.cache === "down") setBanner(true)
  else if (s.cache === "up") pollLatest()
  if (typeof s.source === "string") {
    state.lastSourceAt = Date.now()
    setSource(s.source)
  }
  if (state.everOpened) pollReady()
}

export const connect = () => {
  state.es?.close()
  const es = new EventSource("/api/events")
  state.es = es
  es.addEventListener("open", onOpen)
  es.addEventListener("error", () => {
    setStatus(false)
    if (es.readyState !== EventSource.CLOSED) return
    // the browser gave up (e.g. a non-SSE answer such as a 503 at the connection cap): retry with backoff
    es.close()
    const wait = state.esRetryMs
    state.esRetryMs = Math.min(state.esRetryMs * 2, 30000)
    setTimeout(() => {
      if (state.es === es) connect()
    }, wait)
  })
  es.addEventListener("tick", onTick)
  es.addEventListener("candle", onCandle)
  es.addEventListener("final", onCandle)
  es.addEventListener("reset", onReset)
  es.addEventListener("gap", onGap)
  es.addEventListener("status", onStatus)
}
