import type { Market } from "../../../src/Domain/Market.js"
import type { FakeTrade } from "./Common.js"

/**
 * The fake venue's own 1m candles (Binance `kline_1m`), folded from its trade list as Binance folds its raw trades:
 * per minute of trade time, o/h/l/c the prices' text, v the sum of the sizes (exact decimal text), `f`/`L` the first
 * and last raw trade id, `n` the raw trades. A minute without trades between two trades is a kline of none (the
 * previous close, `f`/`L` -1). Scripts can send one wrong (`corrupt`) or make one count a trade nobody serves
 * (`phantom`): a raw trade id at the minute's end that no aggTrade covers, the aggTrade ids staying consecutive.
 */

export type KlineField = "open" | "high" | "low" | "close" | "volume" | "firstTradeId" | "lastTradeId"

export interface FakeKline {
  readonly market: Market
  readonly bucketStart: number
  readonly open: string
  readonly high: string
  readonly low: string
  readonly close: string
  readonly volume: string
  readonly quoteVolume: string
  /** -1 when the minute had no trade. */
  readonly firstTradeId: number
  readonly lastTradeId: number
  readonly tradeCount: number
  /** The field sent wrong, if `corruptKline` asked for it. */
  readonly corrupted: KlineField | undefined
  /** Whether it counts a phantom trade. */
  readonly phantom: boolean
}

export const minuteOf = (time: number): number => time - (time % 60_000)

/** What a kline counts: a served trade, or a phantom. */
export type Counted = Pick<FakeTrade, "price" | "size" | "time" | "firstRawId" | "lastRawId">

const placesOf = (text: string) => (text.split(".")[1] ?? "").length
const scaled = (text: string, places: number): bigint => {
  const [whole = "0", fraction = ""] = text.split(".")
  return BigInt(`${whole}${fraction.padEnd(places, "0")}`)
}
const format = (n: bigint, places: number): string => {
  if (places === 0) return n.toString()
  const digits = n.toString().padStart(places + 1, "0")
  return `${digits.slice(0, -places)}.${digits.slice(-places)}`
}
const maxPlaces = (texts: ReadonlyArray<string>, fallback: number) =>
  texts.length === 0 ? fallback : Math.max(...texts.map(placesOf))

/** One minute's kline from what it counts (in time order); `previousClose` prices a minute of none. */
export const foldKline = (
  market: Market,
  bucketStart: number,
  counted: ReadonlyArray<Counted>,
  previousClose: string
): FakeKline => {
  const first = counted[0]
  const last = counted[counted.length - 1]
  const byPrice = [...counted].sort((a, b) => Number(a.price) - Number(b.price))
  const pp = maxPlaces(
    counted.map((t) => t.price),
    3
  )
  const qp = maxPlaces(
    counted.map((t) => t.size),
    6
  )
  const volume = counted.reduce((sum, t) => sum + scaled(t.size, qp), 0n)
  const quote = counted.reduce((sum, t) => sum + scaled(t.price, pp) * scaled(t.size, qp), 0n)
  return {
    market,
    bucketStart,
    open: first?.price ?? previousClose,
    high: byPrice.at(-1)?.price ?? previousClose,
    low: byPrice[0]?.price ?? previousClose,
    close: last?.price ?? previousClose,
    volume: format(volume, qp),
    quoteVolume: format(quote, pp + qp),
    firstTradeId: first?.firstRawId ?? -1,
    lastTradeId: last?.lastRawId ?? -1,
    tradeCount: counted.reduce((n, t) => n + t.lastRawId - t.firstRawId + 1, 0),
    corrupted: undefined,
    phantom: false
  }
}

/** The kline with `field` wrong: a decimal one unit of its last digit higher, an id one higher. */
export const corrupt = (k: FakeKline, field: KlineField): FakeKline => {
  if (field === "firstTradeId" || field === "lastTradeId") return { ...k, [field]: k[field] + 1, corrupted: field }
  const text = k[field]
  return { ...k, [field]: format(scaled(text, placesOf(text)) + 1n, placesOf(text)), corrupted: field }
}

interface MarketFeed {
  nextRaw: number
  /** Scripted phantoms by minute: undefined until the minute is over and the phantom takes its raw id. */
  readonly phantoms: Map<number, Counted | undefined>
  readonly corruptions: Map<number, KlineField>
  /** The minute of the next closed kline to send. */
  nextToSend: number | undefined
}

/** Each market's raw trade ids, scripted phantoms and corruptions, and which closed klines are sent. */
export class KlineFeed {
  private readonly feeds = new Map<Market, MarketFeed>()

  constructor(
    private readonly trades: (market: Market) => ReadonlyArray<FakeTrade>,
    private readonly firstRawId: number
  ) {}

  private feed(market: Market): MarketFeed {
    let f = this.feeds.get(market)
    if (f === undefined) {
      f = { nextRaw: this.firstRawId, phantoms: new Map(), corruptions: new Map(), nextToSend: undefined }
      this.feeds.set(market, f)
    }
    return f
  }

  /** The raw ids of aggTrade `id` made at `time`: 1 to 3 of them. A phantom of an earlier minute takes its id first. */
  rawIds(market: Market, id: number, time: number): readonly [number, number] {
    const f = this.feed(market)
    for (const [bucket, made] of f.phantoms) {
      if (made !== undefined || minuteOf(time) <= bucket) continue
      const price = this.trades(market).at(-1)?.price ?? "100.000"
      const raw = f.nextRaw++
      f.phantoms.set(bucket, { price, size: "0.500001", time: bucket + 59_999, firstRawId: raw, lastRawId: raw })
    }
    const first = f.nextRaw
    f.nextRaw += 1 + (id % 3)
    return [first, f.nextRaw - 1]
  }

  phantom(market: Market, bucketStart: number) {
    const last = this.trades(market).at(-1)
    if (last !== undefined && minuteOf(last.time) > bucketStart)
      throw new Error(`phantomTrade: the minute ${new Date(bucketStart).toISOString()} of ${market} is over`)
    this.feed(market).phantoms.set(minuteOf(bucketStart), undefined)
  }

  corrupt(market: Market, bucketStart: number, field: KlineField) {
    this.feed(market).corruptions.set(minuteOf(bucketStart), field)
  }

  /** The minute's kline as sent: its trades (and phantom), then any corruption. */
  private klineAt(market: Market, bucket: number, counted: ReadonlyArray<Counted>, previousClose: string) {
    const f = this.feed(market)
    const phantom = f.phantoms.get(bucket)
    const base = foldKline(market, bucket, phantom === undefined ? counted : [...counted, phantom], previousClose)
    const k = phantom === undefined ? base : { ...base, phantom: true }
    const field = f.corruptions.get(bucket)
    return field === undefined ? k : corrupt(k, field)
  }

  /** Every closed minute's kline, from the market's first trade to the minute before its last one. */
  klines(market: Market): ReadonlyArray<FakeKline> {
    const trades = this.trades(market)
    const first = trades[0]
    const last = trades.at(-1)
    if (first === undefined || last === undefined) return []
    const out: Array<FakeKline> = []
    let i = 0
    let previousClose = first.price
    for (let bucket = minuteOf(first.time); bucket < minuteOf(last.time); bucket += 60_000) {
      const counted: Array<Counted> = []
      while (i < trades.length && minuteOf((trades[i] as FakeTrade).time) === bucket)
        counted.push(trades[i++] as FakeTrade)
      const k = this.klineAt(market, bucket, counted, previousClose)
      previousClose = foldKline(market, bucket, counted, previousClose).close
      out.push(k)
    }
    return out
  }

  /** The closed klines not sent yet, once a trade at `time` is sent; they count as sent from now. */
  due(market: Market, time: number): ReadonlyArray<FakeKline> {
    const f = this.feed(market)
    const first = this.trades(market)[0]
    if (first === undefined) return []
    const from = f.nextToSend ?? minuteOf(first.time)
    if (minuteOf(time) <= from) return []
    f.nextToSend = minuteOf(time)
    return this.klines(market).filter((k) => k.bucketStart >= from && k.bucketStart < minuteOf(time))
  }

  /** The kline of the minute of `time` so far (sent open, `x: false`, now and then). */
  open(market: Market, time: number): FakeKline {
    const trades = this.trades(market)
    const bucket = minuteOf(time)
    const counted = trades.filter((t) => minuteOf(t.time) === bucket && t.time <= time)
    const before = trades.filter((t) => t.time < bucket).at(-1)
    return foldKline(market, bucket, counted, before?.price ?? counted[0]?.price ?? "0")
  }
}
