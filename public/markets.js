// The markets table: a row per market (its venue and state), biggest market cap first, moving with every tick; the
// market picker, grouped by venue; and the chart head's price.
import { changeDir, fmtAge, fmtChange, fmtCompact, fmtPrice, fmtTime, venueLabel } from "./format.js"
import { isNum, marketOf, marketParts, QUOTE_ORDER, VENUE_ORDER } from "./model.js"
import { els, state } from "./state.js"

const STALE_AFTER_MS = 120000
const LIVE_WITHIN_MS = 60000 // a market is live with an event in the last 60 s (docs/markets.md)

const el = (tag, cls) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  return e
}

const rank = (list, v) => (list.includes(v) ? list.indexOf(v) : list.length)

/** Table order: the base's market cap (largest first, unknown last), the base, then venue and quote as the defaults go. */
const compareRows = (a, b) => {
  const pa = marketParts(a)
  const pb = marketParts(b)
  const ca = state.caps.get(pa.base) ?? -1
  const cb = state.caps.get(pb.base) ?? -1
  if (ca !== cb) return cb - ca
  if (pa.base !== pb.base) return pa.base < pb.base ? -1 : 1
  const v = rank(VENUE_ORDER, pa.venue) - rank(VENUE_ORDER, pb.venue)
  if (v !== 0) return v
  const q = rank(QUOTE_ORDER, pa.quote) - rank(QUOTE_ORDER, pb.quote)
  return q !== 0 ? q : a < b ? -1 : 1
}

let layoutFrame = 0
/** Sorts the rows and rebuilds the picker, once per frame whatever the number of changes. */
const scheduleLayout = () => {
  if (layoutFrame) return
  layoutFrame = requestAnimationFrame(() => {
    layoutFrame = 0
    sortRows()
    fillPicker()
  })
}

const sortRows = () => {
  const next = [...state.order].sort(compareRows)
  if (next.every((m, i) => m === state.order[i])) return
  state.order = next
  els.tbody.append(...next.map((m) => state.rows.get(m).tr))
}

let pickerKey = ""
/**
 * The picker: an option per market, grouped by venue (defaults' order); from a server without markets, the symbols
 * as before (one market each).
 */
const fillPicker = () => {
  const markets = [...state.rows.keys()].sort(compareRows)
  const key = `${state.marketsApi}|${markets.join(",")}`
  if (key !== pickerKey) {
    pickerKey = key
    const head = els.marketPicker.options[0]
    const option = (m, label) => {
      const opt = el("option")
      opt.value = m
      opt.textContent = label
      return opt
    }
    const parts = markets.map((m) => ({ m, ...marketParts(m) }))
    if (state.marketsApi) {
      const venues = [...new Set(parts.map((p) => p.venue))].sort((a, b) => rank(VENUE_ORDER, a) - rank(VENUE_ORDER, b))
      const groups = venues.map((venue) => {
        const g = el("optgroup")
        g.label = venueLabel(venue)
        g.append(...parts.filter((p) => p.venue === venue).map((p) => option(p.m, `${p.base}-${p.quote}`)))
        return g
      })
      els.marketPicker.replaceChildren(head, ...groups)
    } else {
      const bySymbol = parts.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0))
      els.marketPicker.replaceChildren(head, ...bySymbol.map((p) => option(p.m, p.base)))
    }
  }
  els.marketPicker.value = state.rows.has(state.market) ? state.market : ""
}

const createRow = (market) => {
  const { venue, base, quote } = marketParts(market)
  const tr = el("tr")
  tr.setAttribute("data-market", market)
  tr.setAttribute("data-symbol", base)
  tr.setAttribute("data-venue", venue)
  tr.setAttribute("tabindex", "0")
  tr.setAttribute("aria-selected", market === state.market ? "true" : "false")
  const symCell = el("td", "col-symbol")
  const sym = el("span", "sym")
  sym.textContent = base
  const q = el("span", "quote")
  q.textContent = `-${quote}`
  const ven = el("span", "venue")
  ven.setAttribute("data-venue", venue)
  ven.textContent = venueLabel(venue)
  symCell.append(sym, q, ven)
  const cells = { sym: symCell, price: el("td", "num price"), change: el("td", "num change") }
  cells.volume = el("td", "num volume col-wide")
  const stateCell = el("td", "col-state")
  cells.state = el("span", "mstate")
  stateCell.append(cells.state)
  cells.age = el("td", "num age")
  tr.append(symCell, cells.price, cells.change, cells.volume, stateCell, cells.age)

  els.tbody.querySelector("tr.empty-row")?.remove()
  els.tbody.append(tr)
  const row = { tr, cells, tick: null, info: null }
  state.rows.set(market, row)
  state.order.push(market)
  scheduleLayout()
  return row
}

const rowOf = (market) => state.rows.get(market) ?? createRow(market)

const flash = (cell, cls) => {
  cell.classList.remove("flash-up", "flash-down", "flash-same")
  void cell.offsetWidth // restart the animation
  cell.classList.add(cls)
}

const lastEventOf = (row) => Math.max(row.tick?.eventTime ?? -Infinity, row.info?.lastEventTime ?? -Infinity)

/** live | stale | idle: the server's word, moved on by the ticks seen since and by the clock. */
const marketState = (row, now) => {
  const last = lastEventOf(row)
  if (Number.isFinite(last)) return now - last <= LIVE_WITHIN_MS ? "live" : "stale"
  return row.info?.state ?? "idle"
}

const updateAge = (row, now) => {
  const st = marketState(row, now)
  if (row.cells.state.textContent !== st) {
    row.cells.state.textContent = st
    row.cells.state.setAttribute("data-state", st)
    row.tr.setAttribute("data-state", st)
  }
  const last = lastEventOf(row)
  if (!Number.isFinite(last)) return
  const age = now - last
  const text = fmtAge(age)
  if (row.cells.age.textContent !== text) row.cells.age.textContent = text
  row.tr.classList.toggle("stale", age > STALE_AFTER_MS)
}

export const tickAges = () => {
  const now = Date.now()
  for (const row of state.rows.values()) updateAge(row, now)
}

/** The selected market's price beside the chart's title. */
export const updateChartPrice = () => {
  const row = state.market && state.rows.get(state.market)
  const price = row?.tick?.price ?? row?.info?.lastPrice
  els.chartPrice.textContent = isNum(price) ? fmtPrice(price) : ""
  els.chartPrice.classList.remove("up", "down")
  const change = row?.tick?.change24h
  if (isNum(change) && changeDir(change) !== "flat") els.chartPrice.classList.add(changeDir(change))
}

/** A market of GET /api/markets: a row for it (an idle one too), its state and, until a tick comes, its last price. */
export const applyMarketInfo = (info) => {
  const row = rowOf(info.market)
  row.info = info
  if (!row.tick && isNum(info.lastPrice)) row.cells.price.textContent = fmtPrice(info.lastPrice)
  updateAge(row, Date.now())
  if (info.market === state.market) updateChartPrice()
}

/**
 * Shows a tick in its market's row (made on first sight); animate: flash the price (live ticks, not snapshots). A
 * venue's trades come many a second: the row takes the newest and is drawn once per animation frame.
 */
export const applyTick = (t, animate) => {
  const market = marketOf(t)
  const row = rowOf(market)
  if (row.tick && t.eventTime < row.tick.eventTime) return // an older snapshot never overwrites a newer tick
  row.tick = t
  if (isNum(t.marketCap) && state.caps.get(t.symbol) !== t.marketCap) {
    if (!state.caps.has(t.symbol)) scheduleLayout()
    state.caps.set(t.symbol, t.marketCap)
  }
  dirty.set(market, dirty.get(market) || animate)
  if (!renderFrame) renderFrame = requestAnimationFrame(renderRows)
}

const dirty = new Map() // market -> whether to flash its price
let renderFrame = 0

const renderRows = () => {
  renderFrame = 0
  const now = Date.now()
  for (const [market, animate] of dirty) renderRow(market, state.rows.get(market), animate, now)
  dirty.clear()
}

const renderRow = (market, row, animate, now) => {
  const t = row.tick
  const c = row.cells
  c.sym.title = typeof t.coinId === "string" ? `${market} (${t.coinId})` : market
  c.price.textContent = fmtPrice(t.price)
  c.price.title = `Event time ${fmtTime(t.eventTime)}${isNum(t.ingestTime) ? `\nIngested ${fmtTime(t.ingestTime)}` : ""}`
  c.change.textContent = fmtChange(t.change24h)
  c.change.classList.remove("up", "down", "flat")
  c.change.classList.add(isNum(t.change24h) ? changeDir(t.change24h) : "flat")
  c.volume.textContent = fmtCompact(t.volume24h)
  updateAge(row, now)
  const prev = row.shownPrice
  if (animate && isNum(prev)) {
    flash(c.price, t.price > prev ? "flash-up" : t.price < prev ? "flash-down" : "flash-same")
  }
  row.shownPrice = t.price
  if (market === state.market) updateChartPrice()
}

/** After a snapshot (market caps may have moved) or a change of mode: order and picker again. */
export const relayout = scheduleLayout
