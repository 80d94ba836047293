import { Schema } from "effect"
import type { GapRef } from "./Completeness.js"
import type { Gap } from "./Gap.js"

// A market's unfilled gaps in the operator's state (docs/completeness.md, "The operator"): kept while they may still
// touch an open candle, so each candle can list the gaps touching it when it is emitted.

/** `[fromId, toId, fromTime, toTime]`, in the order received, without repeats. */
export type GapEntry = readonly [fromId: number, toId: number, fromTime: number, toTime: number]

export const GapsSchema = Schema.mutable(
  Schema.Array(Schema.Tuple(Schema.Number, Schema.Number, Schema.Number, Schema.Number))
)

/** Shared by every candle no gap touches (nearly all of them): no array per emitted candle. */
export const noGaps: ReadonlyArray<GapRef> = Object.freeze([])

/** A gap touches every bucket `[start, start + width)` that intersects `[fromTime, toTime]`. */
export const touches = (gap: GapEntry, start: number, width: number): boolean =>
  start <= gap[3] && start + width > gap[2]

/** The refs of the gaps touching a bucket, in the order received. */
export const gapsTouching = (gaps: ReadonlyArray<GapEntry>, start: number, width: number): ReadonlyArray<GapRef> => {
  let refs: Array<GapRef> | undefined
  for (const gap of gaps) if (touches(gap, start, width)) (refs ??= []).push({ fromId: gap[0], toId: gap[1] })
  return refs ?? noGaps
}

/** Records a gap; false when it is there already (the same ids). */
export const addGap = (gaps: Array<GapEntry>, gap: Gap): boolean => {
  if (gaps.some((g) => g[0] === gap.fromId && g[1] === gap.toId)) return false
  gaps.push([gap.fromId, gap.toId, gap.fromTime, gap.toTime])
  return true
}

/** `refs` with `ref` added at the end, unless it is there (ids equal). */
export const withRef = (refs: ReadonlyArray<GapRef>, ref: GapRef): ReadonlyArray<GapRef> =>
  refs.some((r) => r.fromId === ref.fromId && r.toId === ref.toId) ? refs : [...refs, ref]

/**
 * Drops, in place, the gaps that end before `before`: the caller passes the earliest bucket start any open or future
 * candle can have, so they touch nothing that can still be emitted.
 */
export const dropGapsBefore = (gaps: Array<GapEntry>, before: number): void => {
  let kept = 0
  for (const gap of gaps) if (gap[3] >= before) gaps[kept++] = gap
  gaps.length = kept
}
