import { Either } from "effect"
import type { Newest } from "../Bus/TopicScan.js"
import type { Tick } from "../Domain/Tick.js"
import { marketChartTicks } from "../Sources/CoinGecko/MarketChart.js"
import { thousands } from "../Text.js"

/** One coin's history: CoinGecko's answer → ticks, and which of them to publish given what the topic holds. */

export interface History {
  readonly ticks: ReadonlyArray<Tick>
  readonly bad: ReadonlyArray<readonly [string, string]>
}

/**
 * A market_chart answer → ticks for `symbol`, oldest first, one per event time: source "coingecko", event time the
 * point's own time, price, market cap and 24 h volume (CoinGecko's rolling 24 h volume: `volume24h`, not a trade
 * size) where given, ingest time `now`. Points that give no valid tick are counted in `bad`.
 */
export const historyTicks = (
  json: unknown,
  coinId: string,
  symbol: string,
  now: number
): Either.Either<History, string> =>
  Either.map(marketChartTicks(json, { coinId, symbol, source: "coingecko", ingestTime: now }), ({ bad, ticks }) => {
    const byTime = new Map<number, Tick>()
    for (const t of ticks) byTime.set(t.eventTime, t)
    return { bad, ticks: [...byTime.values()].sort((a, b) => a.eventTime - b.eventTime) }
  })

/** What to do with a coin's ticks: publish the fresh ones, or nothing, and why. */
export type Plan =
  | { readonly _tag: "Publish"; readonly fresh: ReadonlyArray<Tick>; readonly skipped: number }
  | { readonly _tag: "Nothing"; readonly skipped: number; readonly problem: string }

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Only the ticks newer than the newest the topic holds for `symbol`; none when that one is from another source
 * (real history would be mixed into simulated or replayed candles).
 */
export const plan = (ticks: ReadonlyArray<Tick>, symbol: string, there: Newest | undefined): Plan => {
  if (there !== undefined && there.source !== "coingecko") {
    return {
      _tag: "Nothing",
      skipped: ticks.length,
      problem:
        `skipped: the topic already holds ${there.source} ticks of ${symbol} (up to ${iso(there.eventTime)}); ` +
        `real history would be mixed into those candles (use a fresh topic)`
    }
  }
  const fresh = there === undefined ? ticks : ticks.filter((t) => t.eventTime > there.eventTime)
  const skipped = ticks.length - fresh.length
  if (fresh.length > 0) return { _tag: "Publish", fresh, skipped }
  return {
    _tag: "Nothing",
    skipped,
    problem:
      ticks.length === 0 || there === undefined
        ? "the answer holds no points"
        : `nothing new: the topic already holds ${symbol} up to ${iso(there.eventTime)}, ` +
          `at or after all ${thousands(ticks.length)} points`
  }
}
