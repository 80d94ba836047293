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

/**
 * The stream is open. After a drop we may have missed updates: the snapshot and the dependencies are asked again; the
 * chart is reloaded unless the browser resumed this stream with the id of an event we got (Last-Event-ID): then the
 * server replays what we missed, or sends `reset` when it cannot.
 */
const onOpen = (es) => {
  setStatus(true)
  state.esRetryMs = 1000
  if (state.everOpened) {
    pollLatest()
    if (!(es.opened && es.sawId)) loadCandles()
    pollReady()
  }
  es.opened = true
  state.everOpened = true
}

/** A handler that first notes whether the stream has given an event id (so a resume can use it). */
const withId = (es, handler) => (ev) => {
  if (ev.lastEventId) es.sawId = true
  handler(ev)
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
  es.addEventListener("open", () => onOpen(es))
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
  const events = { tick: onTick, candle: onCandle, final: onCandle, gap: onGap, status: onStatus, reset: onReset }
  for (const [name, handler] of Object.entries(events)) es.addEventListener(name, withId(es, handler))
}
