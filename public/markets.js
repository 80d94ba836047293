// The markets table: a row per symbol, biggest market cap first, moving with every tick; and the chart head's price.
import { changeDir, fmtAge, fmtChange, fmtCompact, fmtPrice, fmtTime, knownSource, sourceLabel } from "./format.js"
import { isNum } from "./model.js"
import { els, state } from "./state.js"

const STALE_AFTER_MS = 120000

const el = (tag, cls) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  return e
}

/** Where a new row goes: before the first row with a smaller market cap (rows without one go last). */
const rowIndex = (marketCap) => {
  if (!isNum(marketCap)) return state.order.length
  const at = state.order.findIndex((symbol) => {
    const other = state.rows.get(symbol).tick
    return !other || !isNum(other.marketCap) || other.marketCap < marketCap
  })
  return at < 0 ? state.order.length : at
}

/** The symbol picker lists every symbol of the table, alphabetically. */
const addSymbolOption = (symbol) => {
  const opts = [...els.symbolPicker.options]
  if (opts.some((o) => o.value === symbol)) return
  const opt = el("option")
  opt.value = symbol
  opt.textContent = symbol
  els.symbolPicker.insertBefore(opt, opts.slice(1).find((o) => o.value > symbol) ?? null)
  if (symbol === state.symbol) els.symbolPicker.value = symbol
}

const createRow = (symbol, marketCap) => {
  const tr = el("tr")
  tr.setAttribute("data-symbol", symbol)
  tr.setAttribute("tabindex", "0")
  tr.setAttribute("aria-selected", "false")
  const symCell = el("td", "col-symbol")
  const sym = el("span", "sym")
  sym.textContent = symbol
  const coin = el("span", "coin")
  symCell.append(sym, coin)
  const cells = { coin, price: el("td", "num price"), change: el("td", "num change") }
  cells.volume = el("td", "num volume col-wide")
  const source = el("td", "col-wide")
  cells.src = el("span", "src")
  source.append(cells.src)
  cells.age = el("td", "num age")
  tr.append(symCell, cells.price, cells.change, cells.volume, source, cells.age)

  els.tbody.querySelector("tr.empty-row")?.remove()
  const at = rowIndex(marketCap)
  if (at < state.order.length) els.tbody.insertBefore(tr, state.rows.get(state.order[at]).tr)
  else els.tbody.append(tr)
  const row = { tr, cells, tick: null }
  state.rows.set(symbol, row)
  state.order.splice(at, 0, symbol)
  addSymbolOption(symbol)
  return row
}

const flash = (cell, cls) => {
  cell.classList.remove("flash-up", "flash-down", "flash-same")
  void cell.offsetWidth // restart the animation
  cell.classList.add(cls)
}

const updateAge = (row, now) => {
  if (!row.tick) return
  const age = now - row.tick.eventTime
  const text = fmtAge(age)
  if (row.cells.age.textContent !== text) row.cells.age.textContent = text
  row.tr.classList.toggle("stale", age > STALE_AFTER_MS)
}

export const tickAges = () => {
  const now = Date.now()
  for (const row of state.rows.values()) updateAge(row, now)
}

/** The selected symbol's price beside the chart's title. */
export const updateChartPrice = () => {
  const row = state.symbol && state.rows.get(state.symbol)
  if (!row?.tick) {
    els.chartPrice.textContent = ""
    return
  }
  const { price, change24h } = row.tick
  els.chartPrice.textContent = fmtPrice(price)
  els.chartPrice.classList.remove("up", "down")
  if (isNum(change24h) && changeDir(change24h) !== "flat") els.chartPrice.classList.add(changeDir(change24h))
}

/** Shows a tick in its row (made on first sight); animate: flash the price up or down (live ticks, not snapshots). */
export const applyTick = (t, animate) => {
  const row = state.rows.get(t.symbol) ?? createRow(t.symbol, t.marketCap)
  const prev = row.tick
  if (prev && t.eventTime < prev.eventTime) return // an older snapshot never overwrites a newer tick
  row.tick = t

  const c = row.cells
  c.coin.textContent = typeof t.coinId === "string" ? t.coinId : ""
  c.price.textContent = fmtPrice(t.price)
  c.price.title = `Event time ${fmtTime(t.eventTime)}${isNum(t.ingestTime) ? `\nIngested ${fmtTime(t.ingestTime)}` : ""}`
  c.change.textContent = fmtChange(t.change24h)
  c.change.classList.remove("up", "down", "flat")
  c.change.classList.add(isNum(t.change24h) ? changeDir(t.change24h) : "flat")
  c.volume.textContent = fmtCompact(t.volume24h)
  c.src.textContent = sourceLabel(t.source)
  c.src.setAttribute("data-source", knownSource(t.source) ? t.source : "unknown")
  updateAge(row, Date.now())

  if (animate && prev) {
    flash(c.price, t.price > prev.price ? "flash-up" : t.price < prev.price ? "flash-down" : "flash-same")
  }
  if (t.symbol === state.symbol) updateChartPrice()
}
