/**
 * The tests' own reference for candles, written from the definition and independent of src/ (no bucket, key or VWAP
 * helper of the code under test): each candle is computed from its whole group of ticks at once, in a canonical order,
 * so nothing depends on how or how often the pipeline saw them. A tick counted twice changes tickCount, volume and
 * usually vwap; a tick lost changes tickCount; either can change open, high, low and close.
 *
 * Trade ids (docs/completeness.md): a candle's firstTradeId / lastTradeId are the smallest and largest raw trade id of
 * its ticks, each tick covering `firstTradeId..lastTradeId` when it says so (an aggregate trade) and else its own
 * `tradeId`. A reference built from ticks that carry no id at all leaves them out, and then they are not compared.
 */

/**
 * What a reference candle is built from: the accepted ticks, each once. Candles are per market (docs/markets.md): a
 * tick's own, else the one its source means (`referenceMarket`); a tick with neither is grouped by its symbol alone.
 */
export interface ReferenceTick {
  readonly symbol: string
  readonly market?: string | undefined
  readonly source?: string | undefined
  readonly eventTime: number
  readonly price: number
  readonly volume?: number | undefined
  readonly tradeId?: number | undefined
  readonly firstTradeId?: number | undefined
  readonly lastTradeId?: number | undefined
}

export interface ReferenceCandle {
  /** Absent for candles of ticks with no market and no source. */
  readonly market?: string | undefined
  readonly symbol: string
  readonly interval: string
  readonly bucketStart: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly tickCount: number
  readonly vwap: number
  /** Smallest / largest raw trade id; null for a candle of samples; absent when the ticks carried no ids. */
  readonly firstTradeId?: number | null | undefined
  readonly lastTradeId?: number | null | undefined
}

/** A candle as read back from the record (Postgres rows or the API), with its bucket start as epoch ms. */
export type StoredCandle = ReferenceCandle

const MINUTE = 60 * 1000
/** Interval name → bucket width in ms. UTC buckets aligned on the epoch (1d starts at 00:00 UTC). */
export const referenceIntervals: ReadonlyArray<readonly [string, number]> = [
  ["1m", MINUTE],
  ["5m", 5 * MINUTE],
  ["15m", 15 * MINUTE],
  ["1h", 60 * MINUTE],
  ["1d", 1440 * MINUTE]
]

/** `market` (or, for ticks with no market or source, the symbol), interval, bucket start. */
export const referenceKey = (market: string, interval: string, bucketStart: number): string =>
  JSON.stringify([market, interval, bucketStart])

/** A tick's market: its own; else, written before markets, the simulator's or (coingecko, replay) CoinGecko's. */
export const referenceMarket = (tick: ReferenceTick): string | undefined =>
  tick.market ??
  (tick.source === undefined ? undefined : `${tick.source === "replay" ? "coingecko" : tick.source}:${tick.symbol}-USD`)

/** Every candle of every interval, keyed by `referenceKey`. */
export const referenceCandles = (
  ticks: Iterable<ReferenceTick>,
  intervals: ReadonlyArray<readonly [string, number]> = referenceIntervals
): Map<string, ReferenceCandle> => {
  const groups = new Map<
    string,
    { market: string | undefined; symbol: string; interval: string; start: number; ticks: Array<ReferenceTick> }
  >()
  for (const tick of ticks) {
    const market = referenceMarket(tick)
    for (const [interval, width] of intervals) {
      const start = tick.eventTime - (((tick.eventTime % width) + width) % width)
      const key = referenceKey(market ?? tick.symbol, interval, start)
      let group = groups.get(key)
      if (group === undefined) {
        group = { market, symbol: tick.symbol, interval, start, ticks: [] }
        groups.set(key, group)
      }
      group.ticks.push(tick)
    }
  }
  const out = new Map<string, ReferenceCandle>()
  for (const [key, g] of groups) {
    // Open is the earliest tick and close the latest; equal times break towards the lower price first.
    const sorted = g.ticks
      .slice()
      .sort((a, b) => (a.eventTime !== b.eventTime ? a.eventTime - b.eventTime : a.price - b.price))
    const prices = sorted.map((t) => t.price)
    const volumes = sorted.map((t) => t.volume ?? 0)
    const volume = volumes.reduce((s, v) => s + v, 0)
    const weighted = sorted.reduce((s, t, i) => s + t.price * (volumes[i] as number), 0)
    const high = Math.max(...prices)
    const low = Math.min(...prices)
    // VWAP: volume-weighted mean price; with no volume at all, the plain mean. A mean lies within [low, high].
    const mean = volume > 0 ? weighted / volume : prices.reduce((s, p) => s + p, 0) / prices.length
    out.set(key, {
      ...(g.market === undefined ? {} : { market: g.market }),
      ...referenceIds(g.ticks),
      symbol: g.symbol,
      interval: g.interval,
      bucketStart: g.start,
      open: prices[0] as number,
      high,
      low,
      close: prices[prices.length - 1] as number,
      volume,
      tickCount: sorted.length,
      vwap: Math.min(high, Math.max(low, mean))
    })
  }
  return out
}

/** The ids a group of ticks spans: each tick's own range (first..last) or its trade id; none when no tick has one. */
const referenceIds = (
  ticks: ReadonlyArray<ReferenceTick>
): { firstTradeId?: number | null; lastTradeId?: number | null } => {
  const lows: Array<number> = []
  const highs: Array<number> = []
  let carried = false
  for (const t of ticks) {
    if ("tradeId" in t || "firstTradeId" in t || "lastTradeId" in t) carried = true
    const low = t.firstTradeId ?? t.tradeId
    const high = t.lastTradeId ?? t.tradeId
    if (low !== undefined) lows.push(low)
    if (high !== undefined) highs.push(high)
  }
  if (!carried) return {}
  return {
    firstTradeId: lows.length === 0 ? null : Math.min(...lows),
    lastTradeId: highs.length === 0 ? null : Math.max(...highs)
  }
}

/** Floating sums differ with the order of addition: volume and vwap are equal to a relative 1e-9. */
const close = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))

/**
 * Every field of every stored candle against the reference, and the same set of candles: a list of differences,
 * empty when they agree. OHLC and tickCount must be exact; volume and vwap equal to a relative 1e-9.
 */
export const candleDifferences = (
  stored: ReadonlyArray<StoredCandle>,
  reference: ReadonlyMap<string, ReferenceCandle>
): Array<string> => {
  const problems: Array<string> = []
  const seen = new Set<string>()
  for (const c of stored) {
    const key = referenceKey(c.market ?? c.symbol, c.interval, c.bucketStart)
    const where = `${c.market ?? c.symbol} ${c.interval} ${new Date(c.bucketStart).toISOString()}`
    if (seen.has(key)) problems.push(`${where}: stored twice`)
    seen.add(key)
    const ref = reference.get(key)
    if (ref === undefined) {
      problems.push(`${where}: stored, not in the reference`)
      continue
    }
    if (c.symbol !== ref.symbol) problems.push(`${where}: symbol ${c.symbol}, reference ${ref.symbol}`)
    for (const field of ["open", "high", "low", "close", "tickCount"] as const) {
      if (c[field] !== ref[field]) problems.push(`${where}: ${field} ${c[field]}, reference ${ref[field]}`)
    }
    for (const field of ["volume", "vwap"] as const) {
      if (!close(c[field], ref[field])) problems.push(`${where}: ${field} ${c[field]}, reference ${ref[field]}`)
    }
    for (const field of ["firstTradeId", "lastTradeId"] as const) {
      if (c[field] !== undefined && ref[field] !== undefined && c[field] !== ref[field])
        problems.push(`${where}: ${field} ${c[field]}, reference ${ref[field]}`)
    }
  }
  for (const [key, ref] of reference) {
    if (!seen.has(key))
      problems.push(`${ref.market ?? ref.symbol} ${ref.interval} ${new Date(ref.bucketStart).toISOString()}: missing`)
  }
  return problems
}

/** A row's trade ids when it has the columns (migration 0005 or the API): numbers (bigint may be text) or null. */
const tradeIdsOf = (row: Record<string, unknown>): { firstTradeId?: number | null; lastTradeId?: number | null } => {
  const id = (u: unknown): number | null => (u === null ? null : Number(u))
  const first = "firstTradeId" in row ? row["firstTradeId"] : row["first_trade_id"]
  const last = "lastTradeId" in row ? row["lastTradeId"] : row["last_trade_id"]
  return first === undefined || last === undefined ? {} : { firstTradeId: id(first), lastTradeId: id(last) }
}

/** Postgres `candles` rows (snake_case or camelCase, numerics possibly as strings) as StoredCandles. */
export const storedCandle = (row: Record<string, unknown>): StoredCandle => {
  const num = (snake: string, camel: string): number => Number(row[camel] ?? row[snake])
  const start = row["bucketStart"] ?? row["bucket_start"]
  return {
    ...(row["market"] === undefined || row["market"] === null ? {} : { market: String(row["market"]) }),
    symbol: String(row["symbol"]),
    interval: String(row["interval"]),
    bucketStart: start instanceof Date ? start.getTime() : Number(start),
    open: num("open", "open"),
    high: num("high", "high"),
    low: num("low", "low"),
    close: num("close", "close"),
    volume: num("volume", "volume"),
    tickCount: num("tick_count", "tickCount"),
    vwap: num("vwap", "vwap"),
    ...tradeIdsOf(row)
  }
}
