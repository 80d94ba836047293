import { CandleCheck, type CheckedCandle, type GapRef } from "./Completeness.js"
import type { Kline } from "./Kline.js"

/**
 * Our final 1m candle against the venue's own (docs/completeness.md, "The check"). Pure and deterministic: `checkedAt`
 * is the market's newest event time, so a replay after a crash makes the same row.
 */

/** Fields compared, in the order `mismatched` lists them. */
const priceFields = ["open", "high", "low", "close"] as const

/** Volumes are sums of sizes: equal to a relative 1e-9 (at least 1e-9 absolute). */
const sameVolume = (ours: number, theirs: number): boolean =>
  Math.abs(ours - theirs) <= 1e-9 * Math.max(1, Math.abs(theirs))

const differences = (ours: CheckedCandle, theirs: Kline): Array<string> => {
  const mismatched: Array<string> = []
  // Both sides come from the venue's decimal text, so equal decimals are equal numbers: compared exactly.
  for (const field of priceFields) if (ours[field] !== Number(theirs[field])) mismatched.push(field)
  if (!sameVolume(ours.volume, Number(theirs.volume))) mismatched.push("volume")
  if (ours.firstTradeId !== theirs.firstTradeId) mismatched.push("firstTradeId")
  if (ours.lastTradeId !== theirs.lastTradeId) mismatched.push("lastTradeId")
  return mismatched
}

/**
 * `gap` when an unfilled gap touches the minute (not compared: a candle missing trades cannot match, and one with no
 * candle at all is explained); `missing` when we have no candle (`match` when the venue's has no trade either); else
 * `match`, or `mismatch` naming each differing field.
 */
export const check = (
  ours: CheckedCandle | null,
  gaps: ReadonlyArray<GapRef>,
  theirs: Kline,
  checkedAt: number
): CandleCheck => {
  const row = {
    market: theirs.market,
    interval: "1m" as const,
    bucketStart: theirs.bucketStart,
    ours,
    theirs,
    gaps: gaps.map(({ fromId, toId }) => ({ fromId, toId })),
    checkedAt
  }
  if (gaps.length > 0) return new CandleCheck({ ...row, result: "gap", mismatched: [] })
  if (ours === null)
    return new CandleCheck({ ...row, result: theirs.tradeCount === 0 ? "match" : "missing", mismatched: [] })
  const mismatched = differences(ours, theirs)
  return new CandleCheck({ ...row, result: mismatched.length === 0 ? "match" : "mismatch", mismatched })
}
