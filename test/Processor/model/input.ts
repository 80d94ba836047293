import { FastCheck as fc, Schema } from "effect"
import { Tick, TickJson } from "../../../src/Domain/Tick.js"
import { type ReferenceCandle, referenceCandles, referenceIntervals } from "../../support/Reference.js"

// Generated input for one fault schedule, and what the processor must make of it, decided here without src/:
// which records are accepted, dropped as duplicates, late or undecodable.

export const lateness = 60_000
const encode = Schema.encodeSync(TickJson)
// 21:00 UTC: several hours of event time close a 1d bucket.
const epoch = Date.UTC(2025, 10, 1, 21)
const sources = ["coingecko", "simulator", "replay"] as const

const gapArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 20_000, max: 900_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 900_000, max: 24 * 3_600_000 }) }
)

export const rawArb = fc.record({
  rows: fc.array(
    fc.record({
      s: fc.integer({ min: 0, max: 2 }),
      source: fc.integer({ min: 0, max: 2 }),
      gap: gapArb,
      price: fc.double({ min: 0.5, max: 5_000, noNaN: true }),
      volume: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
      // Reordering: delivered at event time plus up to the whole allowed lateness.
      delay: fc.integer({ min: 0, max: lateness })
    }),
    { minLength: 4, maxLength: 90, size: "medium" }
  ),
  // A copy of a record, at a random later position.
  duplicates: fc.array(fc.record({ of: fc.nat(), later: fc.nat() }), { maxLength: 10 }),
  // A tick just inside (at or one ms after the watermark) or just outside (one ms before) the lateness.
  edges: fc.array(
    fc.record({
      at: fc.nat(),
      s: fc.integer({ min: 0, max: 2 }),
      source: fc.integer({ min: 0, max: 2 }),
      offset: fc.constantFrom(-lateness - 1, -lateness, -lateness + 1),
      price: fc.double({ min: 0.5, max: 5_000, noNaN: true })
    }),
    { maxLength: 6 }
  ),
  malformed: fc.array(
    fc.record({
      at: fc.nat(),
      s: fc.integer({ min: 0, max: 2 }),
      value: fc.oneof(fc.string(), fc.constant('{"price": -1}'), fc.constant("null"), fc.constant('{"symbol":"x"}'))
    }),
    { maxLength: 5 }
  )
})
export type Raw = typeof rawArb extends fc.Arbitrary<infer A> ? A : never

export type Kind = "tick" | "malformed"
export interface InputRecord {
  readonly key: string
  readonly value: string
  readonly kind: Kind
  readonly tick?: Tick
}

export interface Expected {
  readonly records: ReadonlyArray<InputRecord>
  /** Accepted ticks, each once. */
  readonly accepted: ReadonlyArray<Tick>
  readonly late: number
  readonly malformed: number
  readonly duplicates: number
  readonly reference: Map<string, ReferenceCandle>
  /** What this input exercises, for the suite's fair-share counts. */
  readonly features: ReadonlyArray<string>
}

const tickOf = (symbol: string, source: number, eventTime: number, price: number, volume?: number) =>
  new Tick({
    symbol,
    coinId: symbol.toLowerCase(),
    price,
    ...(volume === undefined ? {} : { volume }),
    eventTime,
    source: sources[source]!,
    ingestTime: eventTime
  })

const record = (tick: Tick): InputRecord => ({ key: tick.symbol, value: encode(tick), kind: "tick", tick })

/** The delivery order: reordered ticks, then copies, edge ticks and malformed records at random positions. */
const deliveryOrder = (run: number, raw: Raw): { records: Array<InputRecord>; features: Set<string> } => {
  const symbols = ["A", "B", "C"].map((x) => `R${run}${x}`)
  const clock = new Map<number, number>()
  const features = new Set<string>()
  const timed = raw.rows.map((r) => {
    const eventTime = (clock.get(r.s) ?? epoch) + r.gap
    clock.set(r.s, eventTime)
    return { at: eventTime + r.delay, rec: record(tickOf(symbols[r.s]!, r.source, eventTime, r.price, r.volume)) }
  })
  const records = timed.sort((a, b) => a.at - b.at).map((t) => t.rec)
  for (const d of raw.duplicates) {
    if (records.length === 0) break
    const i = d.of % records.length
    const j = i + 1 + (d.later % (records.length - i))
    records.splice(j, 0, records[i]!)
    if (j > i + 1) features.add("duplicate far from its original")
  }
  for (const e of raw.edges) {
    const k = e.at % (records.length + 1)
    const max = Math.max(
      0,
      ...records
        .slice(0, k)
        .flatMap((r) => (r.tick !== undefined && r.tick.symbol === symbols[e.s] ? [r.tick.eventTime] : []))
    )
    if (max === 0) continue
    records.splice(k, 0, record(tickOf(symbols[e.s]!, e.source, max + e.offset, e.price)))
    features.add(e.offset < -lateness ? "tick just outside the lateness" : "tick just inside the lateness")
  }
  for (const m of raw.malformed) {
    const k = m.at % (records.length + 1)
    if (k < records.length) features.add("malformed record interleaved")
    records.splice(k, 0, { key: symbols[m.s]!, value: m.value, kind: "malformed" })
  }
  return { records, features }
}

/** The processor's rules, from the design: late = behind the symbol's newest event time minus the lateness. */
export const expected = (run: number, raw: Raw): Expected => {
  const { records, features } = deliveryOrder(run, raw)
  const newest = new Map<string, number>()
  const seen = new Set<string>()
  const accepted: Array<Tick> = []
  let late = 0
  let duplicates = 0
  for (const r of records) {
    const t = r.tick
    if (t === undefined) continue
    const max = newest.get(t.symbol) ?? 0
    const key = JSON.stringify([t.symbol, t.source, t.eventTime])
    if (t.eventTime < max - lateness) late++
    else if (seen.has(key)) duplicates++
    else {
      seen.add(key)
      accepted.push(t)
      newest.set(t.symbol, Math.max(max, t.eventTime))
    }
  }
  const bySymbol = new Map<string, Set<string>>()
  for (const t of accepted) bySymbol.set(t.symbol, (bySymbol.get(t.symbol) ?? new Set()).add(t.source))
  if ([...bySymbol.values()].some((s) => s.size > 1)) features.add("several sources for one symbol")
  const reference = referenceCandles(accepted)
  for (const [interval, width] of referenceIntervals) {
    if (interval !== "1h" && interval !== "1d") continue
    const closed = [...reference.values()].some(
      (c) => c.interval === interval && c.bucketStart + width <= (newest.get(c.symbol) ?? 0) - lateness
    )
    if (closed) features.add(`a ${interval} bucket closed`)
  }
  if (Math.max(0, ...newest.values()) - epoch > 2 * 86_400_000) features.add("over two days")
  if (late > 0) features.add("late tick")
  return {
    records,
    accepted,
    late,
    malformed: records.filter((r) => r.kind === "malformed").length,
    duplicates,
    reference,
    features: [...features]
  }
}
