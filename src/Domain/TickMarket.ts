import type { Market } from "./Market.js"
import { type Source, sampleMarket, type Tick } from "./Tick.js"

// A tick written before markets has no market: `marketOf` builds its string on each call. Ticks are many and such
// markets few, so these keep one string per (source, symbol).
const sampleMarkets = new Map<string, Map<string, Market>>()

/** `sampleMarket(source, symbol)`, remembered. */
export const cachedSampleMarket = (source: Source, symbol: string): Market => {
  let bySymbol = sampleMarkets.get(source)
  if (bySymbol === undefined) sampleMarkets.set(source, (bySymbol = new Map()))
  let market = bySymbol.get(symbol)
  if (market === undefined) {
    market = sampleMarket(source, symbol)
    if (bySymbol.size < 100_000) bySymbol.set(symbol, market)
  }
  return market
}

/** `marketOf(tick)` without building a string per tick: for the hot paths. */
export const tickMarket = (tick: Tick): Market => tick.market ?? cachedSampleMarket(tick.source, tick.symbol)
