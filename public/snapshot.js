// GET /api/latest: the table's first fill, and every 10 s the cache's health (503 while it is down: the banner).
import { applyTick, relayout } from "./markets.js"
import { asTick, isNum, POLL_MS, parseJson } from "./model.js"
import { maybeSelectDefault } from "./selection.js"
import { els, state } from "./state.js"
import { setBanner, setSource } from "./status.js"

const applySnapshot = (body) => {
  setBanner(false)
  state.snapshotOk = true
  let newest = null
  for (const raw of body.prices) {
    const t = asTick(raw)
    if (!t) continue
    applyTick(t, false)
    if (!newest || (t.ingestTime || 0) > (newest.ingestTime || 0)) newest = t
  }
  relayout() // market caps may have moved
  if (newest && Date.now() - state.lastSourceAt > POLL_MS) setSource(newest.source)
  if (isNum(body.asOf)) els.asof.textContent = `Snapshot ${new Date(body.asOf).toLocaleTimeString()}`
}

let latestTimer = null
export const pollLatest = () => {
  clearTimeout(latestTimer)
  fetch("/api/latest", { cache: "no-store", headers: { Accept: "application/json" } })
    .then((res) => res.text().then((text) => ({ status: res.status, body: parseJson(text) })))
    .then(({ status, body }) => {
      if (status === 503) setBanner(true)
      else if (status === 200 && Array.isArray(body?.prices)) applySnapshot(body)
    })
    .catch(() => {
      /* network error: the SSE indicator already says reconnecting */
    })
    .then(() => {
      if (!state.snapshotSettled) state.snapshotSettled = Date.now()
      maybeSelectDefault()
      latestTimer = setTimeout(pollLatest, POLL_MS)
    })
}
