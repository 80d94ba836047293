// The status bar (the live stream, each dependency from GET /ready, where the prices come from) and the cache banner.
import { knownSource, sourceLabel } from "./format.js"
import { POLL_MS, parseJson } from "./model.js"
import { els } from "./state.js"

export const setStatus = (live) => {
  const st = live ? "live" : "reconnecting"
  if (els.status.textContent !== st) els.status.textContent = st
  els.statusPill.setAttribute("data-state", st)
}

export const setSource = (src) => {
  els.source.textContent = sourceLabel(src)
  els.source.setAttribute("data-source", knownSource(src) ? src : "unknown")
  els.attribution.hidden = src !== "coingecko"
  els.simulatedNote.hidden = src !== "simulator"
  els.replayNote.hidden = src !== "replay"
}

export const setBanner = (down) => {
  els.banner.hidden = !down
}

const DEP_NAMES = { database: "Database", cache: "Cache", bus: "Bus" }

const depState = (deps, d) => {
  if (!deps) return "unknown"
  if (!d) return "absent"
  return d.state === "up" || d.state === "down" ? d.state : "unknown"
}

/** /ready: {status: ready|degraded|unavailable, dependencies: {database, cache, bus?: {kind, state, error?}}} */
const applyReady = (body) => {
  const deps = body && typeof body === "object" && body.dependencies && typeof body.dependencies === "object"
  const dependencies = deps ? body.dependencies : null
  const overall = body && typeof body.status === "string" ? body.status : "unknown"
  els.deps.setAttribute("data-status", /^(ready|degraded|unavailable)$/.test(overall) ? overall : "unknown")
  for (const item of els.deps.querySelectorAll(".dep[data-dep]")) {
    const name = item.getAttribute("data-dep")
    const d = dependencies && Object.hasOwn(dependencies, name) ? dependencies[name] : null
    const st = depState(dependencies, d)
    item.setAttribute("data-state", st)
    item.hidden = st === "absent"
    const kind = d && typeof d.kind === "string" ? ` (${d.kind})` : ""
    const err = d && typeof d.error === "string" ? `: ${d.error}` : ""
    item.title = `${DEP_NAMES[name]}${kind}: ${st === "absent" ? "not used" : st}${err}`
  }
}

/** /ready's `history: {published, processed, total}` while a history loads: "loading history 42%" (processed). */
const applyHistory = (body) => {
  const h = body && typeof body === "object" ? body.history : null
  const loading = h && typeof h === "object" && Number.isFinite(h.processed) && Number.isFinite(h.total) && h.total > 0
  els.history.hidden = !loading
  if (!loading) return false
  const pct = Math.min(100, Math.floor((h.processed * 100) / h.total))
  els.history.textContent = `loading history ${pct}%`
  els.history.setAttribute("data-percent", String(pct))
  return true
}

// While a history loads, /ready is asked more often, so the percentage moves.
const HISTORY_POLL_MS = 2000

let readyTimer = null
export const pollReady = () => {
  clearTimeout(readyTimer)
  fetch("/ready", { cache: "no-store", headers: { Accept: "application/json" } })
    .then((res) => res.text())
    .then((text) => {
      const body = parseJson(text)
      applyReady(body)
      return applyHistory(body)
    })
    .catch(() => {
      applyReady(null)
      return applyHistory(null)
    })
    .then((loading) => {
      readyTimer = setTimeout(pollReady, loading ? HISTORY_POLL_MS : POLL_MS)
    })
}
