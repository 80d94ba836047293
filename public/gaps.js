// The selected market's unfilled gaps (GET /api/markets/:market/gaps, then SSE `gap` events): which buckets of the
// chart they mark, and the list the readout shows for a hovered bucket.
import { fmtClock } from "./format.js"
import { asListedGap, INTERVALS, isMarket, parseJson } from "./model.js"
import { els, state } from "./state.js"

const MAX_GAPS = 500 // the endpoint's default limit

/** Whether a market can have gaps: only trade markets have trade ids (samples from CoinGecko or the simulator do not). */
export const hasTradeIds = (market) =>
  isMarket(market) && !market.startsWith("coingecko:") && !market.startsWith("simulator:")

/** Asks for the selection's gaps; a server without the endpoint (or a sample market) has none. */
export const loadGaps = (redraw) => {
  const market = state.market
  if (!hasTradeIds(market) || state.marketsApi === false) {
    state.gaps = { market, list: [] }
    return
  }
  fetch(`/api/markets/${encodeURIComponent(market)}/gaps?limit=${MAX_GAPS}`, {
    headers: { Accept: "application/json" }
  })
    .then((res) => res.text().then((text) => ({ status: res.status, body: parseJson(text) })))
    .then(({ status, body }) => {
      if (state.market !== market) return // the answer for an earlier selection
      const list = status === 200 && Array.isArray(body?.gaps) ? body.gaps.map(asListedGap).filter(Boolean) : []
      // gaps that came over SSE while the list was on its way stay
      const live = state.gaps?.market === market ? state.gaps.list : []
      state.gaps = { market, list: [] }
      for (const g of [...list, ...live]) addGap(g)
      redraw()
    })
    .catch(() => {
      /* no list: the candles' own statuses still mark their buckets */
    })
}

const sameIds = (a, b) => a.fromId === b.fromId && a.toId === b.toId

/** A gap of the selected market (an SSE `gap` event); false when it is not the selection's or already known. */
export const addGap = (g) => {
  if (!g || g.market !== state.market || !Number.isFinite(g.fromTime) || !Number.isFinite(g.toTime)) return false
  if (state.gaps?.market !== g.market) state.gaps = { market: g.market, list: [] }
  if (state.gaps.list.some((k) => sameIds(k, g))) return false
  state.gaps.list.push(g)
  return true
}

const listed = () => (state.gaps && state.gaps.market === state.candles?.market ? state.gaps.list : [])

/** Whether gap g touches the bucket starting at x (seconds): [x, x + interval) meets [fromTime, toTime]. */
const touches = (g, x, ivSec) => g.fromTime < (x + ivSec) * 1000 && g.toTime >= x * 1000

/** The bucket starts (seconds) marked between lo and hi: candles with status gap or gap ids, and listed gaps' buckets. */
export const markedBuckets = (cur, lo, hi) => {
  const iv = INTERVALS[cur.interval]
  const out = new Set()
  for (let i = 0; i < cur.x.length; i++) {
    if (cur.x[i] >= lo && cur.x[i] <= hi && (cur.st[i] === "gap" || cur.gaps[i].length)) out.add(cur.x[i])
  }
  for (const g of listed()) {
    const first = Math.max(Math.floor(g.fromTime / 1000 / iv) * iv, Math.floor(lo / iv) * iv)
    const last = Math.min(Math.floor(g.toTime / 1000 / iv) * iv, hi)
    for (let x = first; x <= last; x += iv) out.add(x)
  }
  return out
}

/** The gaps of candle i: the listed ones touching its bucket, then its own gap ids that the list lacks. */
export const gapsAt = (cur, i) => {
  const iv = INTERVALS[cur.interval]
  const found = listed().filter((g) => touches(g, cur.x[i], iv))
  for (const r of cur.gaps[i] ?? []) if (!found.some((g) => sameIds(g, r))) found.push(r)
  return found.sort((a, b) => a.fromId - b.fromId)
}

const idText = (n) => n.toLocaleString("en-US")

const gapItem = (g) => {
  const li = document.createElement("li")
  li.setAttribute("data-from-id", String(g.fromId))
  li.setAttribute("data-to-id", String(g.toId))
  const n = g.toId - g.fromId + 1
  const ids = g.fromId === g.toId ? `id ${idText(g.fromId)}` : `ids ${idText(g.fromId)}–${idText(g.toId)}`
  const parts = [`${ids} (${idText(n)} missing)`]
  if (typeof g.reason === "string") parts.push(g.reason)
  if (Number.isFinite(g.fromTime)) parts.push(`${fmtClock(g.fromTime)} → ${fmtClock(g.toTime)}`)
  parts.forEach((text, k) => {
    const part = document.createElement("span") // a part never breaks inside (not-served, a time)
    part.textContent = text
    li.append(...(k ? [" · ", part] : [part]))
  })
  return li
}

/** The tooltip's gap list for the hovered candle (idx null: none hovered); hidden when it has none. */
export const showGaps = (idx) => {
  const cur = state.candles
  const gaps = cur && idx != null && idx >= 0 && idx < cur.x.length ? gapsAt(cur, idx) : []
  els.chartGaps.hidden = gaps.length === 0
  els.chartGaps.setAttribute("data-count", String(gaps.length))
  if (!gaps.length) {
    els.chartGaps.replaceChildren()
    return
  }
  const head = document.createElement("span")
  head.className = "gaps-head"
  head.textContent = gaps.length === 1 ? "Unfilled gap" : `${gaps.length} unfilled gaps`
  const ul = document.createElement("ul")
  ul.append(...gaps.map(gapItem))
  els.chartGaps.replaceChildren(head, ul)
}
