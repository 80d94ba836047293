import { writeFileSync } from "node:fs"
import { knownCoins } from "../../src/Sources/Coins.js"
import { mulberry32 } from "../../support/random.mjs"

/**
 * A replay file that gives the dashboard both history and a live feed, in one `service` process on embedded adapters,
 * so the real processor computes every candle and indicator (SMA 50 needs 50 candles: a fresh simulator would need
 * 50 × 5 minutes for the 5m chart):
 *
 * 1. a marker tick for `markerCoin` stamped `start`: the replay paces every later tick against the first one
 *    (src/Sources/Replay.ts `pace`), so ticks stamped before `start` go at once and ticks after it at wall-clock pace;
 * 2. `historyHours` of ticks for every other default coin, one per `historyStepMs`, ending just before `start`
 *    (the marker coin has none: its watermark is already at `start`, so they would be late);
 * 3. `liveMinutes` of ticks for every default coin, one per `liveStepMs`, after `start`: the live feed.
 *
 * Prices are a seeded geometric Brownian motion per coin that passes through the coin's usual price at `start`
 * (walked backwards for the history), with a random trade size per tick, as the simulator makes them.
 *
 * `trades` adds venue markets: trades (a tick with `market`, `tradeId`, `side`, docs/markets.md) with consecutive ids,
 * one per `historyStepMs` before `start` and `perLiveStep` per `liveStepMs` after it, those within `burstMs` of each
 * other (many in one animation frame), 137 ms off the samples' grid (no trade shares a sample's event time).
 */
export interface HistoryOptions {
  readonly path: string
  readonly start: number
  readonly historyHours: number
  readonly historyStepMs: number
  readonly liveMinutes: number
  readonly liveStepMs: number
  readonly seed: number
  readonly markerCoin: string
  readonly trades?: ReadonlyArray<TradeMarket>
}

export interface TradeMarket {
  /** venue:BASE-QUOTE, the base one of the default coins. */
  readonly market: string
  /** The venue's symbol (BTCUSDT), the tick's coinId. */
  readonly venueSymbol: string
  /** The first trade id. */
  readonly firstId: number
  /** Trades per live step (default 1), spread over burstMs (default: the whole step). */
  readonly perLiveStep?: number
  readonly burstMs?: number
}

const yearMs = 365.25 * 24 * 3600 * 1000

export const writeHistory = (o: HistoryOptions): { readonly lines: number } => {
  const random = mulberry32(o.seed)
  const gaussian = () =>
    Math.sqrt(-2 * Math.log(Math.max(random(), Number.MIN_VALUE))) * Math.cos(2 * Math.PI * random())
  type Line = { readonly t: number; readonly json: string }
  const ticks: Array<Line> = []
  // Trade sizes scale with the tick spacing, so a minute holds about the same volume in the history and the live part.
  const line = (coin: (typeof knownCoins)[number], price: number, eventTime: number, stepMs: number): Line => ({
    t: eventTime,
    json: JSON.stringify({
      symbol: coin.symbol,
      coinId: coin.id,
      price,
      volume: ((200 * Math.exp(2.5 * random())) / price) * (stepMs / 20_000),
      volume24h: coin.volume24h,
      marketCap: coin.marketCap * (price / coin.price),
      change24h: (price / coin.price - 1) * 100 + 1.5 * Math.sin(coin.price),
      eventTime
    })
  })
  // A slow swing on top of the noise, so a 12 h chart has some shape to it.
  const swing = (coin: (typeof knownCoins)[number], t: number) =>
    coin.volatility < 0.05 ? 0 : 0.012 * Math.sin((t - o.start) / (3.1 * 3600_000) + coin.price)

  const marker = knownCoins.find((c) => c.id === o.markerCoin)
  if (marker === undefined) throw new Error(`unknown marker coin ${o.markerCoin}`)
  const first = line(marker, marker.price, o.start, o.liveStepMs)

  for (const coin of knownCoins) {
    const sigma = coin.volatility
    const pegged = sigma < 0.05
    if (coin.id !== o.markerCoin) {
      const dt = o.historyStepMs / yearMs
      let walk = 0 // log-price offset from the coin's price at `start`
      const back: Array<Line> = []
      for (let t = o.start - o.historyStepMs; t > o.start - o.historyHours * 3600_000; t -= o.historyStepMs) {
        walk = pegged ? walk * 0.9 + sigma * Math.sqrt(dt) * gaussian() : walk - sigma * Math.sqrt(dt) * gaussian()
        back.push(line(coin, coin.price * Math.exp(walk + swing(coin, t)), t, o.historyStepMs))
      }
      ticks.push(...back.reverse())
    }
    const dt = o.liveStepMs / yearMs
    let walk = 0
    for (let t = o.start + o.liveStepMs; t <= o.start + o.liveMinutes * 60_000; t += o.liveStepMs) {
      // noisier than the history, so a price visibly moves every few ticks
      walk = pegged ? walk * 0.9 + sigma * Math.sqrt(dt) * gaussian() : walk + 4 * sigma * Math.sqrt(dt) * gaussian()
      ticks.push(line(coin, coin.price * Math.exp(walk + swing(coin, t)), t, o.liveStepMs))
    }
  }
  for (const tm of o.trades ?? []) ticks.push(...tradeLines(o, tm, random, gaussian))
  ticks.sort((a, b) => a.t - b.t)
  writeFileSync(o.path, `${[first, ...ticks].map((l) => l.json).join("\n")}\n`)
  return { lines: ticks.length + 1 }
}

/** One venue market's trades over the history and the live part, ids consecutive, in time order. */
const tradeLines = (
  o: HistoryOptions,
  tm: TradeMarket,
  random: () => number,
  gaussian: () => number
): Array<{ readonly t: number; readonly json: string }> => {
  const base = tm.market.slice(tm.market.indexOf(":") + 1, tm.market.indexOf("-"))
  const coin = knownCoins.find((c) => c.symbol === base)
  if (coin === undefined) throw new Error(`no default coin for ${tm.market}`)
  const times: Array<number> = []
  for (let t = o.start - o.historyHours * 3600_000 + o.historyStepMs; t < o.start; t += o.historyStepMs)
    times.push(t + 137)
  const perStep = tm.perLiveStep ?? 1
  const spread = tm.burstMs ?? o.liveStepMs
  for (let t = o.start; t < o.start + o.liveMinutes * 60_000; t += o.liveStepMs) {
    for (let k = 0; k < perStep; k++) times.push(t + 137 + Math.floor((k * spread) / perStep))
  }
  let walk = 0
  return times.map((t, i) => {
    const dt = (i === 0 ? o.historyStepMs : t - times[i - 1]!) / yearMs
    walk += 2 * coin.volatility * Math.sqrt(dt) * gaussian()
    const price = Number((coin.price * 1.0004 * Math.exp(walk)).toPrecision(8))
    const json = JSON.stringify({
      symbol: base,
      coinId: tm.venueSymbol,
      price,
      volume: Number(((20 * Math.exp(3 * random())) / price).toPrecision(5)),
      eventTime: t,
      market: tm.market,
      tradeId: tm.firstId + i,
      side: random() < 0.5 ? "buy" : "sell"
    })
    return { t, json }
  })
}
