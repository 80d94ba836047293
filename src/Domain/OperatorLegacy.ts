import { Schema } from "effect"
import { type CandleState, candleKey } from "./Aggregate.js"
import type { Market } from "./Market.js"
import type { MarketState, OperatorState } from "./OperatorState.js"
import { Source, sampleMarket } from "./Tick.js"

// Checkpoints written before markets (docs/markets.md, "The processor"): the operator's state was per symbol.

/** Each symbol's state as its market's: `legacy`'s market for it, else the sample market of its dominant source. */
export const fromLegacy = (
  symbols: Readonly<Record<string, MarketState>>,
  legacy: ReadonlyMap<string, Market>
): OperatorState => {
  const markets: Record<string, MarketState> = {}
  for (const [symbol, s] of Object.entries(symbols)) {
    const market = legacy.get(symbol) ?? sampleMarket(dominantSource(s), symbol)
    const open: Record<string, CandleState> = {}
    for (const c of Object.values(s.open)) open[candleKey(market, c.interval, c.bucketStart)] = c
    markets[market] = { ...s, open }
  }
  return { markets }
}

const isSource = Schema.is(Source)

/** The source with most entries in a state's dedupe set (the first by name of equals); coingecko when it is empty. */
const dominantSource = (s: MarketState): Source => {
  let best: Source = "coingecko"
  let most = 0
  for (const [source, times] of [...s.seen].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (times.size > most && isSource(source)) [best, most] = [source, times.size]
  }
  return best
}
