// The status bar's check line: the selected market's candles checked against the venue's own
// (GET /api/markets/:market/checks, over the chart's range), e.g. "checks 118/120 match · 2 gap", mismatches in red.
import { fmtBucket } from "./format.js"
import { hasTradeIds } from "./gaps.js"
import { asCheckSummary, POLL_MS, parseJson, RANGES } from "./model.js"
import { els, state } from "./state.js"

const KINDS = [
  ["mismatch", "mismatch"],
  ["gap", "gap"],
  ["missing", "missing"]
]

const hide = () => {
  els.checks.hidden = true
  els.checks.setAttribute("data-state", "none")
  els.checks.setAttribute("data-market", "")
}

/** Another market's line is not shown while the selection's is on its way. */
export const forgetChecks = () => {
  if (els.checks.getAttribute("data-market") !== state.market) hide()
}

const part = (text, cls) => {
  const s = document.createElement("span")
  if (cls) s.className = cls
  s.textContent = text
  return s
}

/** The newest mismatches, for the pill's title: "12:03 close, volume". */
const mismatchTitle = (checks) =>
  checks
    .filter((c) => c && c.result === "mismatch" && Number.isFinite(c.bucketStart))
    .slice(0, 5)
    .map(
      (c) => `${fmtBucket(c.bucketStart / 1000, "1m")}: ${Array.isArray(c.mismatched) ? c.mismatched.join(", ") : "?"}`
    )

const show = (market, summary, checks) => {
  const total = summary.match + summary.mismatch + summary.gap + summary.missing
  if (total === 0) return hide() // no check in the window: a venue without reference candles
  const parts = [part(`checks ${summary.match}/${total} match`)]
  for (const [key, label] of KINDS) {
    if (summary[key] > 0) parts.push(part(" · "), part(`${summary[key]} ${label}`, `check-${key}`))
  }
  els.checksText.replaceChildren(...parts)
  for (const k of ["match", "mismatch", "gap", "missing"]) els.checks.setAttribute(`data-${k}`, String(summary[k]))
  els.checks.setAttribute("data-state", summary.mismatch > 0 ? "mismatch" : "ok")
  els.checks.setAttribute("data-market", market)
  const bad = mismatchTitle(checks)
  els.checks.title = ["Candles checked against the venue's own 1m candles", ...bad].join("\n")
  els.checks.hidden = false
}

let timer = null
/** Asks for the selection's checks now and every POLL_MS; a 404 (a server without checks) hides the line until the next selection. */
export const pollChecks = () => {
  clearTimeout(timer)
  const market = state.market
  if (!hasTradeIds(market) || state.marketsApi === false) {
    hide()
    return
  }
  const from = Date.now() - RANGES[state.range] * 1000
  fetch(`/api/markets/${encodeURIComponent(market)}/checks?from=${from}&limit=100`, {
    cache: "no-store",
    headers: { Accept: "application/json" }
  })
    .then((res) => res.text().then((text) => ({ status: res.status, body: parseJson(text) })))
    .then(({ status, body }) => {
      if (state.market !== market) return false
      const summary = status === 200 ? asCheckSummary(body?.summary) : null
      if (summary) show(market, summary, Array.isArray(body.checks) ? body.checks : [])
      else hide()
      return status !== 404
    })
    .catch(() => {
      hide()
      return true
    })
    .then((again) => {
      if (again && state.market === market) timer = setTimeout(pollChecks, POLL_MS)
    })
}
