// The dashboard's state and its elements, shared by the modules.

export const state = {
  // the selection: a market (venue:BASE-QUOTE), or a bare symbol until the server names its default market
  market: null,
  interval: "1m",
  range: "2h",
  marketsApi: null, // GET /api/markets: true (answers), false (absent: a server without markets), null (not asked yet)
  rows: new Map(), // market -> { tr, cells, tick, info }
  order: [], // the table's markets, top to bottom
  caps: new Map(), // base -> its latest market cap (orders the table)
  candles: null, // the charted series (series.js)
  pendingUrl: null, // the candles request whose answer we wait for
  pendingCandles: [], // live candles for a selection whose history is on its way
  candleRetry: null,
  es: null,
  esRetryMs: 1000,
  everOpened: false,
  gaps: null, // { market, list }: the selection's unfilled gaps (gaps.js)
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
  history: "history",
  checks: "checks",
  checksText: "checks-text",
  source: "source",
  banner: "cache-banner",
  tbody: "ticker-body",
  marketPicker: "market-picker",
  tape: "tape",
  tapeBody: "tape-body",
  tapeTitle: "tape-title",
  tapeHint: "tape-hint",
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
  chartGaps: "chart-gaps",
  asof: "asof",
  attribution: "attribution",
  simulatedNote: "simulated-note",
  replayNote: "replay-note"
}

export const els = {}

export const bindElements = () => {
  for (const [name, id] of Object.entries(ids)) els[name] = document.getElementById(id)
}
