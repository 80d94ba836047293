// The trade tape of the selected market: time, side, price, size; newest on top, at most MAX_ROWS rows. Trades arrive
// over SSE at any rate: they wait in a bounded queue and reach the page once per animation frame, so neither the
// queue nor the table grows, and a burst costs one DOM update.
import { fmtClock, nf, tapeFormats } from "./format.js"
import { isMarket, isNum, marketOf, marketParts } from "./model.js"
import { els, state } from "./state.js"

export const MAX_ROWS = 50

const tape = { sel: null, market: null, pending: [], frame: 0, fmt: null, rows: 0, trades: 0 }

const cell = (cls, text) => {
  const td = document.createElement("td")
  td.className = cls
  td.textContent = text
  return td
}

const emptyRow = (text) => {
  const tr = document.createElement("tr")
  tr.className = "empty-row"
  const td = cell("", text)
  td.colSpan = 4
  tr.append(td)
  return tr
}

const tradeRow = (t) => {
  const tr = document.createElement("tr")
  const side = t.side === "buy" || t.side === "sell" ? t.side : "none"
  tr.className = `side-${side}`
  if (isNum(t.tradeId)) tr.setAttribute("data-trade-id", String(t.tradeId))
  tr.append(
    cell("time", fmtClock(t.eventTime)),
    cell("side", side === "none" ? "—" : side),
    cell("num price", tape.fmt.price(t.price)),
    cell("num size", tape.fmt.size(t.volume))
  )
  return tr
}

const gapRow = (g) => {
  const tr = document.createElement("tr")
  tr.className = "gap-row"
  const n = g.toId - g.fromId + 1
  const what = `gap: ${nf(0, 0).format(n)} trade${n === 1 ? "" : "s"} missing (ids ${g.fromId}–${g.toId})`
  const td = cell("", typeof g.reason === "string" ? `${what}, ${g.reason}` : what)
  td.colSpan = 4
  tr.append(td)
  return tr
}

const describe = () => {
  els.tape.setAttribute("data-market", tape.market ?? "")
  els.tape.setAttribute("data-rows", String(tape.rows))
  els.tape.setAttribute("data-trades", String(tape.trades))
}

/** The queued events, newest first, on top of the table; the oldest rows beyond MAX_ROWS go. */
const flush = () => {
  tape.frame = 0
  const batch = tape.pending
  tape.pending = []
  if (!batch.length) return
  const frag = document.createDocumentFragment()
  for (let i = batch.length - 1; i >= 0; i--) {
    const e = batch[i]
    if (e.gap) frag.append(gapRow(e.gap))
    else {
      tape.fmt ??= tapeFormats(e.tick.price)
      frag.append(tradeRow(e.tick))
      tape.trades++
    }
  }
  const body = els.tapeBody
  body.querySelector("tr.empty-row")?.remove()
  body.prepend(frag)
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove()
  tape.rows = body.rows.length
  describe()
}

const enqueue = (e) => {
  tape.pending.push(e)
  if (tape.pending.length > MAX_ROWS) tape.pending.shift() // would scroll off before it is ever drawn
  if (!tape.frame) tape.frame = requestAnimationFrame(flush)
}

/** A live tick: on the tape when it is of the selected market. */
export const tapeTick = (t) => {
  if (tape.market !== null && marketOf(t) === tape.market) enqueue({ tick: t })
}

/** A gap of the selected market: a line on the tape where the missing trades would be. */
export const tapeGap = (g) => {
  if (tape.market !== null && g.market === tape.market) enqueue({ gap: g })
}

/** The selection changed (or its market became known): a fresh tape for it. */
export const resetTape = () => {
  if (state.market === tape.sel) return
  const market = isMarket(state.market) ? state.market : null
  if (tape.frame) cancelAnimationFrame(tape.frame)
  Object.assign(tape, { sel: state.market, market, pending: [], frame: 0, fmt: null, rows: 0, trades: 0 })
  const parts = marketParts(market)
  const trades = parts && ["binance", "coinbase", "kraken"].includes(parts.venue)
  els.tapeTitle.textContent = trades ? "Trades" : "Ticks"
  els.tapeHint.textContent = market ? `${market} · live` : "Select a market"
  const waiting = trades ? "Waiting for trades…" : "Waiting for ticks (sampled prices: no side)…"
  // a bare symbol: its market is the one the server names in the candles' answer
  const none = state.market ? `Waiting for the server to name ${state.market}'s market…` : "No market selected"
  els.tapeBody.replaceChildren(emptyRow(market ? waiting : none))
  describe()
}
