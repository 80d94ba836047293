import { Schema } from "effect"

/** Ticker symbol as shown to users: upper-case letters and digits, e.g. BTC. */
export const Symbol = Schema.String.pipe(
  Schema.pattern(/^[A-Z0-9]{1,15}$/),
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
  symbol: Symbol,
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
