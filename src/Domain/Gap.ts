import { Schema } from "effect"
import { Market } from "./Market.js"
import { EpochMillis } from "./Tick.js"
import { TradeId } from "./Trade.js"

/** Why trade ids are missing for good: the venue's REST could not give them back. */
export const GapReason = Schema.Literal(
  "not-served", // REST answered, without these ids (the venue's own hole)
  "rest-failed", // REST kept failing (unreachable, 5xx, bad answers) within the fill's budget
  "rate-limited", // REST refused (429 / 418 / EAPI:Rate limit) past the fill's budget
  "too-large" // more missing ids than a fill may fetch
).annotations({ identifier: "GapReason" })
export type GapReason = typeof GapReason.Type

/**
 * A range of a market's trade ids that the source could not deliver: ids fromId..toId (inclusive) are missing,
 * between the trade before (at fromTime) and the trade after (at toTime). A record on the bus, keyed by market,
 * in id order with the trades around it; stored, counted, listed and sent to live clients.
 */
export class Gap extends Schema.Class<Gap>("Gap")({
  type: Schema.Literal("gap"),
  market: Market,
  fromId: TradeId,
  toId: TradeId,
  /** Event time of the last trade before the gap, epoch ms. */
  fromTime: EpochMillis,
  /** Event time of the first trade after the gap, epoch ms. */
  toTime: EpochMillis,
  reason: GapReason,
  /** When the source gave up on it, epoch ms. */
  detectedAt: EpochMillis
}) {}

/** Gap ⇄ JSON string, for the bus. */
export const GapJson = Schema.parseJson(Gap)

/** How many ids a gap misses. */
export const gapSize = (gap: Gap): number => gap.toId - gap.fromId + 1
