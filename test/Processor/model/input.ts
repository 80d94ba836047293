import { FastCheck as fc, Schema } from "effect"
import { Tick, TickJson } from "../../../src/Domain/Tick.js"
import { type ReferenceCandle, referenceCandles, referenceIntervals, referenceMarket } from "../../support/Reference.js"

// Generated input for one fault schedule, and what the processor must make of it, decided here without src/:
// which records are accepted, dropped as duplicates, late or undecodable. Per symbol there are samples (coingecko,
// simulator, replay: two markets, coingecko's and the simulator's) and a venue's trades (binance:SYM-USDT) with trade
// ids, several in one millisecond, and gap records where ids are missing (docs/markets.md).

export const lateness = 60_000
const encode = Schema.encodeSync(TickJson)
// 21:00 UTC: several hours of event time close a 1d bucket.
const epoch = Date.UTC(2025, 10, 1, 21)
const sources = ["coingecko", "simulator", "replay"] as const
/** `source` index of a trade row. */
const TRADE = 3

const gapArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 20_000, max: 900_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 900_000, max: 24 * 3_600_000 }) }
)

export const rawArb = fc.record({
  rows: fc.array(
    fc.record({
      s: fc.integer({ min: 0, max: 2 }),
      source: fc.integer({ min: 0, max: TRADE }),
      gap: gapArb,
      // A trade in the very millisecond of the record before it (samples always move on).
      sameMilli: fc.boolean(),
      // Trade ids jumped over before this trade: a gap record says so.
      hole: fc.constantFrom(0, 0, 0, 0, 0, 1, 4),
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

export type Kind = "tick" | "gap" | "malformed"
export interface InputGap {
  readonly type: "gap"
  readonly market: string
  readonly fromId: number
  readonly toId: number
  readonly fromTime: number
  readonly toTime: number
  readonly reason: "not-served"
  readonly detectedAt: number
}
export interface InputRecord {
  readonly key: string
  readonly value: string
  readonly kind: Kind
  readonly tick?: Tick
  readonly gap?: InputGap
}

export interface Expected {
  readonly records: ReadonlyArray<InputRecord>
  /** Accepted ticks, each once. */
  readonly accepted: ReadonlyArray<Tick>
  /** Gaps, each once (by market and ids). */
  readonly gaps: ReadonlyArray<InputGap>
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

const tradeOf = (symbol: string, tradeId: number, eventTime: number, price: number, volume: number) =>
  new Tick({
    symbol,
    coinId: `${symbol}USDT`,
    price,
    volume,
    eventTime,
    source: "binance",
    ingestTime: eventTime + 3,
    market: `binance:${symbol}-USDT` as Tick["market"] & string,
    tradeId,
    side: tradeId % 2 === 0 ? "buy" : "sell"
  })

/** Keyed by market, as the producer keys them. */
const record = (tick: Tick): InputRecord => ({
  key: referenceMarket(tick)!,
  value: encode(tick),
  kind: "tick",
  tick
})
const gapRecord = (gap: InputGap): InputRecord => ({ key: gap.market, value: JSON.stringify(gap), kind: "gap", gap })

/** Rows in event-time order per symbol; a trade after a hole in the ids comes after its gap record. */
const timedRecords = (symbols: ReadonlyArray<string>, raw: Raw) => {
  const clock = new Map<number, number>()
  const nextId = new Map<number, number>()
  const lastTrade = new Map<number, number>()
  return raw.rows.flatMap((r) => {
    const trade = r.source === TRADE
    const before = clock.get(r.s) ?? epoch
    const eventTime = trade && r.sameMilli ? before : before + r.gap
    clock.set(r.s, eventTime)
    const at = eventTime + r.delay
    const symbol = symbols[r.s]!
    if (!trade) return [{ at, rec: record(tickOf(symbol, r.source, eventTime, r.price, r.volume)) }]
    const previous = lastTrade.get(r.s)
    const hole = previous === undefined ? 0 : r.hole
    const id = (nextId.get(r.s) ?? 1_000) + hole
    nextId.set(r.s, id + 1)
    lastTrade.set(r.s, eventTime)
    const out = [{ at, rec: record(tradeOf(symbol, id, eventTime, r.price, r.volume ?? 0.5)) }]
    if (previous === undefined || hole === 0) return out
    const gap: InputGap = {
      type: "gap",
      market: `binance:${symbol}-USDT`,
      fromId: id - hole,
      toId: id - 1,
      fromTime: previous,
      toTime: eventTime,
      reason: "not-served",
      detectedAt: eventTime + 10
    }
    return [{ at, rec: gapRecord(gap) }, ...out]
  })
}

/** The delivery order: reordered ticks, then copies, edge ticks and malformed records at random positions. */
const deliveryOrder = (run: number, raw: Raw): { records: Array<InputRecord>; features: Set<string> } => {
  const symbols = ["A", "B", "C"].map((x) => `R${run}${x}`)
  const features = new Set<string>()
  // Stable: a gap record stays before the trade after it.
  const records = timedRecords(symbols, raw)
    .sort((a, b) => a.at - b.at)
    .map((t) => t.rec)
  for (const d of raw.duplicates) {
    if (records.length === 0) break
    const i = d.of % records.length
    const j = i + 1 + (d.later % (records.length - i))
    records.splice(j, 0, records[i]!)
    if (j > i + 1) features.add("duplicate far from its original")
  }
  for (const e of raw.edges) {
    const k = e.at % (records.length + 1)
    const edge = tickOf(symbols[e.s]!, e.source, 0, e.price)
    const market = referenceMarket(edge)
    const ofMarket = (rs: ReadonlyArray<InputRecord>) =>
      rs.flatMap((r) => (r.tick !== undefined && referenceMarket(r.tick) === market ? [r.tick] : []))
    const max = Math.max(0, ...ofMarket(records.slice(0, k)).map((t) => t.eventTime))
    if (max === 0) continue
    // Not at the very time of another sample of its market: the ticks table keeps one sample per market and time
    // (coingecko's and replay's would be one row), where the operator dedupes per source.
    if (ofMarket(records).some((t) => t.eventTime === max + e.offset && t.source !== edge.source)) continue
    records.splice(k, 0, record(tickOf(symbols[e.s]!, e.source, max + e.offset, e.price)))
    features.add(e.offset < -lateness ? "tick just outside the lateness" : "tick just inside the lateness")
  }
  for (const m of raw.malformed) {
    const k = m.at % (records.length + 1)
    if (k < records.length) features.add("malformed record interleaved")
    records.splice(k, 0, { key: `coingecko:${symbols[m.s]!}-USD`, value: m.value, kind: "malformed" })
  }
  return { records, features }
}

/**
 * The processor's rules, from the design: late = behind the market's newest event time minus the lateness; a
 * duplicate = a trade id of its market seen before, or a sample of its market and source at a time seen before.
 */
export const expected = (run: number, raw: Raw): Expected => {
  const { records, features } = deliveryOrder(run, raw)
  const newest = new Map<string, number>()
  const seen = new Set<string>()
  const accepted: Array<Tick> = []
  const gaps = new Map<string, InputGap>()
  let late = 0
  let duplicates = 0
  for (const r of records) {
    if (r.gap !== undefined) {
      const key = JSON.stringify([r.gap.market, r.gap.fromId, r.gap.toId])
      if (gaps.has(key)) features.add("gap record repeated")
      gaps.set(key, r.gap)
    }
    const t = r.tick
    if (t === undefined) continue
    const market = referenceMarket(t)!
    const max = newest.get(market) ?? 0
    const key = JSON.stringify(t.tradeId === undefined ? [market, t.source, t.eventTime] : [market, t.tradeId])
    if (t.eventTime < max - lateness) late++
    else if (seen.has(key)) {
      duplicates++
      if (t.tradeId !== undefined) features.add("trade repeated")
    } else {
      seen.add(key)
      accepted.push(t)
      newest.set(market, Math.max(max, t.eventTime))
    }
  }
  if (gaps.size > 0) features.add("gap record")
  const trades = accepted.filter((t) => t.tradeId !== undefined)
  if (new Set(trades.map((t) => `${t.market}|${t.eventTime}`)).size < trades.length)
    features.add("trades in one millisecond")
  const bySymbol = new Map<string, Set<string>>()
  for (const t of accepted) bySymbol.set(t.symbol, (bySymbol.get(t.symbol) ?? new Set()).add(t.source))
  if ([...bySymbol.values()].some((s) => s.size > 1)) features.add("several sources for one symbol")
  const reference = referenceCandles(accepted)
  for (const [interval, width] of referenceIntervals) {
    if (interval !== "1h" && interval !== "1d") continue
    const closed = [...reference.values()].some(
      (c) => c.interval === interval && c.bucketStart + width <= (newest.get(c.market ?? "") ?? 0) - lateness
    )
    if (closed) features.add(`a ${interval} bucket closed`)
  }
  if (Math.max(0, ...newest.values()) - epoch > 2 * 86_400_000) features.add("over two days")
  if (late > 0) features.add("late tick")
  return {
    records,
    accepted,
    gaps: [...gaps.values()],
    late,
    malformed: records.filter((r) => r.kind === "malformed").length,
    duplicates,
    reference,
    features: [...features]
  }
}
