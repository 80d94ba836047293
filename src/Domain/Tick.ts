import { Either, type ParseResult, Schema } from "effect"
import { formatMarket, isMarket, Market, marketParts } from "./Market.js"
import { EpochMillis, isEpochMillis, symbolPattern } from "./Primitives.js"
import { Side, type Trade, TradeId } from "./Trade.js"

export { EpochMillis, isEpochMillis, symbolListPattern, symbolPattern } from "./Primitives.js"

/** Ticker symbol as shown to users: upper-case letters and digits, e.g. BTC. */
export const Ticker = Schema.String.pipe(
  Schema.pattern(symbolPattern),
  Schema.annotations({ identifier: "Symbol", description: "Upper-case ticker symbol, e.g. BTC" })
)

const PositiveFinite = Schema.Number.pipe(Schema.finite(), Schema.positive())
const NonNegativeFinite = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

export const Source = Schema.Literal("coingecko", "simulator", "replay", "binance", "coinbase", "kraken").annotations({
  identifier: "Source"
})
export type Source = typeof Source.Type

/** One price observation. Event time is the source's own timestamp, never the time we saw it. */
export class Tick extends Schema.Class<Tick>("Tick")({
  symbol: Ticker,
  coinId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)),
  price: PositiveFinite,
  /** Size of the trade behind this price, where the source gives one (weights VWAP and candle volume). */
  volume: Schema.optional(NonNegativeFinite),
  volume24h: Schema.optional(NonNegativeFinite),
  marketCap: Schema.optional(NonNegativeFinite),
  change24h: Schema.optional(Schema.Number.pipe(Schema.finite())),
  eventTime: EpochMillis,
  source: Source,
  ingestTime: EpochMillis,
  // Markets (docs/markets.md): absent on ticks written before them, whose market is `sampleMarket(source, symbol)`.
  /** `venue:BASE-QUOTE`; see `marketOf`. */
  market: Schema.optional(Market),
  /** The venue's trade id: set on trades, absent on samples. */
  tradeId: Schema.optional(TradeId),
  /** The taker's side, on trades. */
  side: Schema.optional(Side),
  // Completeness (docs/completeness.md): the venue's raw trade ids a tick aggregates (Binance aggTrade `f`/`l`);
  // absent when the tick is one trade (its `tradeId`) or a sample.
  /** First raw trade id this tick aggregates. */
  firstTradeId: Schema.optional(TradeId),
  /** Last raw trade id this tick aggregates. */
  lastTradeId: Schema.optional(TradeId)
}) {}

/** Tick <-> JSON string, for the bus and for files. */
export const TickJson = Schema.parseJson(Tick)

const decodeTickJson = Schema.decodeEither(TickJson)
const isSource = (u: unknown): u is Source =>
  typeof u === "string" && (Source.literals as ReadonlyArray<string>).includes(u)
const isTradeId = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const isPositiveFinite = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u) && u > 0
const isOptionalNonNegative = (u: unknown): u is number | undefined =>
  u === undefined || (typeof u === "number" && Number.isFinite(u) && u >= 0)
const isOptionalFinite = (u: unknown): u is number | undefined =>
  u === undefined || (typeof u === "number" && Number.isFinite(u))

/**
 * The Tick in a parsed JSON value, checked by hand with exactly the schema's rules and built without validating again;
 * undefined when a check fails (the caller then decodes with the schema, for its error). Several times cheaper than
 * the schema, for the hot paths. The checks may only be stricter than the schema, never looser (test/Domain/Tick.test.ts).
 */
export const tickFromJson = (u: unknown): Tick | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const { symbol, coinId, price, volume, volume24h, marketCap, change24h, eventTime, source, ingestTime } = u as Record<
    string,
    unknown
  >
  const { market, tradeId, side, firstTradeId, lastTradeId } = u as Record<string, unknown>
  if (
    typeof symbol !== "string" ||
    !symbolPattern.test(symbol) ||
    typeof coinId !== "string" ||
    coinId.length < 1 ||
    coinId.length > 100 ||
    !isPositiveFinite(price) ||
    !isOptionalNonNegative(volume) ||
    !isOptionalNonNegative(volume24h) ||
    !isOptionalNonNegative(marketCap) ||
    !isOptionalFinite(change24h) ||
    !isEpochMillis(eventTime) ||
    !isSource(source) ||
    !isEpochMillis(ingestTime) ||
    (market !== undefined && !isMarket(market)) ||
    (tradeId !== undefined && !isTradeId(tradeId)) ||
    (side !== undefined && side !== "buy" && side !== "sell") ||
    (firstTradeId !== undefined && !isTradeId(firstTradeId)) ||
    (lastTradeId !== undefined && !isTradeId(lastTradeId))
  )
    return undefined
  // In the schema's field order, so the instance encodes to the same JSON; absent optionals stay absent.
  return new Tick(
    {
      symbol,
      coinId,
      price,
      ...(volume === undefined ? {} : { volume }),
      ...(volume24h === undefined ? {} : { volume24h }),
      ...(marketCap === undefined ? {} : { marketCap }),
      ...(change24h === undefined ? {} : { change24h }),
      eventTime,
      source,
      ingestTime,
      ...(market === undefined ? {} : { market }),
      ...(tradeId === undefined ? {} : { tradeId }),
      ...(side === undefined ? {} : { side }),
      ...(firstTradeId === undefined ? {} : { firstTradeId }),
      ...(lastTradeId === undefined ? {} : { lastTradeId })
    },
    true
  )
}

/** `Schema.decodeEither(TickJson)`, through `tickFromJson` when it accepts the value. */
export const decodeTick = (text: string): Either.Either<Tick, ParseResult.ParseError> => {
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch {
    return decodeTickJson(text)
  }
  const tick = tickFromJson(u)
  return tick === undefined ? decodeTickJson(text) : Either.right(tick)
}

/** The market of a sample written before markets existed (docs/markets.md): the simulator's, or CoinGecko's. */
export const sampleMarket = (source: Source, symbol: string): Market =>
  formatMarket({
    venue: source === "simulator" ? "simulator" : source === "replay" ? "coingecko" : source,
    base: symbol,
    quote: "USD"
  })

/** Every tick's market: its own, or (written before markets) the one its source and symbol mean. */
export const marketOf = (tick: Tick): Market => tick.market ?? sampleMarket(tick.source, tick.symbol)

/** A trade as the bus carries it: a tick with its market, trade id and side (docs/markets.md). */
export const tradeToTick = (trade: Trade, coinId: string): Tick => {
  const { venue, base } = marketParts(trade.market)
  return new Tick(
    {
      symbol: base,
      coinId,
      price: trade.price.value,
      volume: trade.size.value,
      eventTime: trade.eventTime,
      source: venue,
      ingestTime: trade.receiptTime,
      market: trade.market,
      tradeId: trade.tradeId,
      side: trade.side,
      ...(trade.firstTradeId === undefined ? {} : { firstTradeId: trade.firstTradeId }),
      ...(trade.lastTradeId === undefined ? {} : { lastTradeId: trade.lastTradeId })
    },
    true
  )
}
