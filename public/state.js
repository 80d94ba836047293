// The dashboard's state and its elements, shared by the modules.

export const state = {
  symbol: null,
  interval: "1m",
  range: "2h",
  rows: new Map(), // symbol -> { tr, cells, tick }
  order: [], // the table's symbols, top to bottom
  candles: null, // the charted series (series.js)
  pendingUrl: null, // the candles request whose answer we wait for
  pendingCandles: [], // live candles for a selection whose history is on its way
  candleRetry: null,
  es: null,
  esRetryMs: 1000,
  everOpened: false,
  charts: null, // { price, volume, rsi } uPlot instances
  syncing: false,
  zoomed: false,
  overlays: { sma20: true, sma50: true, ema12: true, ema26: true, bb: true },
  axisSize: 60,
  snapshotSettled: 0, // when the first /api/latest answered (or failed)
  snapshotOk: false,
  lastSourceAt: 0
}

/** Element ids by the name the modules use. */
const ids = {
  status: "status",
  statusPill: "status-pill",
  deps: "deps",
  source: "source",
  banner: "cache-banner",
  tbody: "ticker-body",
  symbolPicker: "symbol-picker",
  intervals: "intervals",
  ranges: "ranges",
  overlays: "overlays",
  zoom: "zoom",
  chart: "chart",
  volume: "chart-volume",
  rsi: "chart-rsi",
  tooltip: "chart-tooltip",
  chartTitle: "chart-title",
  chartPrice: "chart-price",
  chartMessage: "chart-message",
  chartFrame: "chart-frame",
  ohlc: "chart-ohlc",
  asof: "asof",
  attribution: "attribution",
  simulatedNote: "simulated-note",
  replayNote: "replay-note"
}

export const els = {}

export const bindElements = () => {
  for (const [name, id] of Object.entries(ids)) els[name] = document.getElementById(id)
}
