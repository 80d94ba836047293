import { Either, type ParseResult, Schema } from "effect"

// The one place a symbol's form is written: 1 to 15 upper-case letters and digits.
const symbolForm = "[A-Z0-9]{1,15}"
export const symbolPattern = new RegExp(`^${symbolForm}$`)
/** Up to `max` comma-separated symbols in any case, e.g. `btc,ETH` (a query parameter). */
export const symbolListPattern = (max: number) => new RegExp(`^${symbolForm}(,${symbolForm}){0,${max - 1}}$`, "i")

/** Ticker symbol as shown to users: upper-case letters and digits, e.g. BTC. */
export const Ticker = Schema.String.pipe(
  Schema.pattern(symbolPattern),
  Schema.annotations({ identifier: "Symbol", description: "Upper-case ticker symbol, e.g. BTC" })
)

/** Epoch milliseconds, UTC. */
export const EpochMillis = Schema.Number.pipe(
  Schema.int(),
  Schema.between(0, 8_640_000_000_000_000),
  Schema.annotations({ identifier: "EpochMillis", description: "Milliseconds since the Unix epoch (UTC)" })
)

const PositiveFinite = Schema.Number.pipe(Schema.finite(), Schema.positive())
const NonNegativeFinite = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

export const Source = Schema.Literal("coingecko", "simulator", "replay").annotations({ identifier: "Source" })
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
  ingestTime: EpochMillis
}) {}

/** Tick <-> JSON string, for the bus and for files. */
export const TickJson = Schema.parseJson(Tick)

const decodeTickJson = Schema.decodeEither(TickJson)
export const isEpochMillis = (u: unknown): u is number =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= 0 && u <= 8_640_000_000_000_000
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
    (source !== "coingecko" && source !== "simulator" && source !== "replay") ||
    !isEpochMillis(ingestTime)
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
      ingestTime
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
