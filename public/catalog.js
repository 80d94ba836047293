// GET /api/markets: every market the server knows, with its venue, kind, state and last price; every 10 s.
// A server without it (404) is one from before markets: the dashboard then works by symbol, as it did.
import { applyMarketInfo, relayout } from "./markets.js"
import { asMarketInfo, POLL_MS, parseJson } from "./model.js"
import { state } from "./state.js"

const FIRST_WAIT_MS = 3000

let timer = null

const apply = (status, body) => {
  if (status === 404) {
    state.marketsApi = false
    relayout()
    return false // no markets here: stop asking
  }
  if (status !== 200 || !Array.isArray(body?.markets)) return true // down for now: ask again later
  if (state.marketsApi !== true) {
    state.marketsApi = true
    relayout()
  }
  for (const raw of body.markets) {
    const info = asMarketInfo(raw)
    if (info) applyMarketInfo(info)
  }
  return true
}

/** Asks for the markets; resolves once the first answer is in (or after a few seconds without one). */
export const pollMarkets = () =>
  new Promise((resolve) => {
    clearTimeout(timer)
    const giveUp = setTimeout(resolve, FIRST_WAIT_MS)
    fetch("/api/markets", { cache: "no-store", headers: { Accept: "application/json" } })
      .then((res) => res.text().then((text) => apply(res.status, parseJson(text))))
      .catch(() => true)
      .then((again) => {
        clearTimeout(giveUp)
        resolve()
        if (again) timer = setTimeout(pollMarkets, POLL_MS)
      })
  })
