import { Schema } from "effect"

/**
 * The operator's dedupe sets, per market (docs/markets.md, "The processor"): samples by (source, event time), trades by
 * trade id. Both forget what is behind the watermark: a tick there is rejected as late before it is looked up.
 */

/** Samples: per source, the event times accepted. */
export type Seen = Map<string, Set<number>>

const seenFromJson = (encoded: Readonly<Record<string, number | ReadonlyArray<number>>>): Seen => {
  const seen: Seen = new Map()
  const add = (source: string, time: number) => {
    let times = seen.get(source)
    if (times === undefined) seen.set(source, (times = new Set()))
    times.add(time)
  }
  for (const [key, value] of Object.entries(encoded)) {
    if (typeof value === "number") add(key.slice(0, key.lastIndexOf("|")), value)
    else {
      let time = 0
      for (const delta of value) add(key, (time += delta))
    }
  }
  return seen
}

export const seenToJson = (seen: Seen): Record<string, Array<number>> => {
  const encoded: Record<string, Array<number>> = {}
  for (const [source, times] of seen) {
    const deltas: Array<number> = []
    let previous = 0
    for (const time of times) {
      deltas.push(time - previous)
      previous = time
    }
    encoded[source] = deltas
  }
  return encoded
}

/**
 * Sets of numbers in memory, so a tick costs no string. In checkpoints, per source the times in arrival order, each as
 * its difference from the one before (about a tenth of the JSON of the format before, which still decodes).
 */
export const SeenSchema = Schema.transform(
  Schema.Union(
    Schema.Record({ key: Schema.String, value: Schema.Array(Schema.Number) }),
    // Checkpoints written before: "source|eventTime" → eventTime.
    Schema.Record({ key: Schema.String, value: Schema.Number })
  ),
  Schema.declare((u): u is Seen => u instanceof Map, { identifier: "Seen" }),
  { strict: true, decode: seenFromJson, encode: seenToJson }
)

/** Adds a sample's event time; false when its source had it already (a duplicate). */
export const admitSample = (seen: Seen, source: string, time: number): boolean => {
  let times = seen.get(source)
  if (times === undefined) seen.set(source, (times = new Set()))
  if (times.has(time)) return false
  times.add(time)
  return true
}

export const sweepSeen = (seen: Seen, watermark: number): void => {
  for (const times of seen.values()) for (const time of times) if (time < watermark) times.delete(time)
}

/**
 * Trades: the accepted ids as ranges, flat `[lo, hi, maxEventTime, lo, hi, maxEventTime, …]`, sorted, disjoint and
 * never adjacent. A venue delivers a market's trades in id order, so nearly every trade extends the last range in
 * place: the set is a few numbers per hole in the ids, whatever the rate. Plain JSON as it is.
 */
export type Ranges = Array<number>

export const RangesSchema = Schema.mutable(Schema.Array(Schema.Number)).pipe(
  Schema.filter((r) => r.length % 3 === 0 || "expected [lo, hi, maxEventTime] triples")
)

/** Adds a trade id; false when it was accepted already (a duplicate). No allocation unless a new range starts. */
export const admitTrade = (r: Ranges, id: number, time: number): boolean => {
  const n = r.length
  if (n === 0 || id > r[n - 2]! + 1) {
    r.push(id, id, time)
    return true
  }
  if (id === r[n - 2]! + 1) {
    r[n - 2] = id
    if (time > r[n - 1]!) r[n - 1] = time
    return true
  }
  // Out of order: the first range whose hi ≥ id (the last one has, so there is one).
  let low = 0
  let high = n / 3 - 1
  while (low < high) {
    const mid = (low + high) >> 1
    if (r[mid * 3 + 1]! < id) low = mid + 1
    else high = mid
  }
  const i = low * 3
  if (r[i]! <= id) return false
  const joinsNext = id === r[i]! - 1
  const joinsPrevious = i > 0 && r[i - 2] === id - 1
  if (joinsPrevious && joinsNext) {
    r[i - 2] = r[i + 1]!
    r[i - 1] = Math.max(r[i - 1]!, r[i + 2]!, time)
    r.splice(i, 3)
  } else if (joinsPrevious) {
    r[i - 2] = id
    r[i - 1] = Math.max(r[i - 1]!, time)
  } else if (joinsNext) {
    r[i] = id
    r[i + 2] = Math.max(r[i + 2]!, time)
  } else r.splice(i, 0, id, id, time)
  return true
}

/** Drops the ranges wholly behind the watermark, in place. */
export const sweepRanges = (r: Ranges, watermark: number): void => {
  let kept = 0
  for (let i = 0; i < r.length; i += 3) {
    if (r[i + 2]! < watermark) continue
    if (kept !== i) {
      r[kept] = r[i]!
      r[kept + 1] = r[i + 1]!
      r[kept + 2] = r[i + 2]!
    }
    kept += 3
  }
  r.length = kept
}
