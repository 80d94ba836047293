import { type Brand, Either, ParseResult, Schema } from "effect"
import { symbolPattern } from "./Primitives.js"

/** Where a market's prices come from: a venue's trades, or a sampled source. */
export const Venue = Schema.Literal("binance", "coinbase", "kraken", "coingecko", "simulator").annotations({
  identifier: "Venue"
})
export type Venue = typeof Venue.Type
export const venues: ReadonlyArray<Venue> = Venue.literals

/** One asset of a pair, in our own naming (BTC, never Kraken's XBT): what a Ticker is. */
export const Asset = Schema.String.pipe(
  Schema.pattern(symbolPattern),
  Schema.annotations({ identifier: "Asset", description: "Upper-case asset symbol, e.g. BTC" })
)

/** A market's parts: the venue and the pair. */
export const MarketParts = Schema.Struct({ venue: Venue, base: Asset, quote: Asset })
export type MarketParts = typeof MarketParts.Type

const marketPattern = /^([a-z]+):([A-Z0-9]{1,15})-([A-Z0-9]{1,15})$/

/** A market in its string form, `venue:BASE-QUOTE` (binance:BTC-USDT): a Kafka key, a URL segment. */
export const Market = Schema.String.pipe(
  Schema.filter((s) => Either.match(readMarket(s), { onLeft: (message) => message, onRight: () => true })),
  Schema.brand("Market"),
  Schema.annotations({
    identifier: "Market",
    description: "venue:BASE-QUOTE, e.g. binance:BTC-USDT",
    // Random strings almost never pass the filter: property tests draw markets from their parts instead.
    arbitrary: () => (fc) =>
      fc
        .tuple(fc.constantFrom(...venues), fc.stringMatching(/^[A-Z0-9]{1,15}$/), fc.stringMatching(/^[A-Z0-9]{1,15}$/))
        .filter(([, base, quote]) => base !== quote)
        .map(([venue, base, quote]) => `${venue}:${base}-${quote}` as string & Brand.Brand<"Market">)
  })
)
export type Market = typeof Market.Type

/** The canonical string → its parts, or why it is not a market. Strict: no case folding, no spaces. */
const readMarket = (s: string): Either.Either<MarketParts, string> => {
  const m = marketPattern.exec(s)
  if (m === null) {
    return Either.left(
      `"${s.slice(0, 60)}" is not a market: expected venue:BASE-QUOTE with a lower-case venue and upper-case ` +
        "letters or digits (1 to 15) for each asset, e.g. binance:BTC-USDT"
    )
  }
  const [, venue = "", base = "", quote = ""] = m
  if (!Schema.is(Venue)(venue)) return Either.left(`"${s}": unknown venue "${venue}" (known: ${venues.join(", ")})`)
  if (base === quote) return Either.left(`"${s}": base and quote are the same asset`)
  return Either.right({ venue, base, quote })
}

/** `venue:BASE-QUOTE` ⇄ its parts; decoding says why a string is refused. */
export const MarketFromString = Schema.transformOrFail(Schema.String, MarketParts, {
  strict: true,
  decode: (s, _, ast) => Either.mapLeft(readMarket(s), (message) => new ParseResult.Type(ast, s, message)),
  encode: (parts) => ParseResult.succeed(`${parts.venue}:${parts.base}-${parts.quote}`)
})

/** The canonical string of a market. */
export const formatMarket = (parts: MarketParts): Market => `${parts.venue}:${parts.base}-${parts.quote}` as Market

/** A canonical market string → its parts, or a message saying what is wrong with it. */
export const parseMarket = (s: string): Either.Either<MarketParts, string> => readMarket(s)

/** What a person types (`Binance:btc-usdt `) → the market; case and surrounding spaces do not matter. */
export const parseMarketInput = (s: string): Either.Either<MarketParts, string> => {
  const t = s.trim()
  const colon = t.indexOf(":")
  return readMarket(colon < 0 ? t : `${t.slice(0, colon).toLowerCase()}:${t.slice(colon + 1).toUpperCase()}`)
}

const validMarkets = new Set<string>()

/** Whether `u` is a market's canonical string; a market seen once is remembered (the bus carries few, often). */
export const isMarket = (u: unknown): u is Market => {
  if (typeof u !== "string") return false
  if (validMarkets.has(u)) return true
  const ok = Either.isRight(readMarket(u))
  if (ok && validMarkets.size < 100_000) validMarkets.add(u)
  return ok
}

/** The parts of a market already known to be valid (the brand says so). */
export const marketParts = (market: Market): MarketParts => Either.getOrThrow(readMarket(market))

// Venue symbols. Each venue names a pair its own way; these are the only places that know how.

/** Binance's REST symbol: BTCUSDT. */
export const binanceSymbol = (m: MarketParts): string => `${m.base}${m.quote}`
/** Binance's stream name prefix: btcusdt (as in btcusdt@aggTrade). */
export const binanceStream = (m: MarketParts): string => binanceSymbol(m).toLowerCase()
/** Coinbase Exchange's product id: BTC-USD. */
export const coinbaseProduct = (m: MarketParts): string => `${m.base}-${m.quote}`
/** Kraken WebSocket v2's symbol: BTC/USD (v2 uses BTC; v1 and REST say XBT). */
export const krakenSymbol = (m: MarketParts): string => `${m.base}/${m.quote}`

/** Kraken's own names for a few assets, in REST pairs (and in v1 and older answers). */
const krakenAliases: ReadonlyMap<string, string> = new Map([
  ["BTC", "XBT"],
  ["DOGE", "XDG"]
])
const fromKraken: ReadonlyMap<string, string> = new Map([...krakenAliases].map(([ours, theirs]) => [theirs, ours]))
const krakenAsset = (asset: string) => krakenAliases.get(asset) ?? asset

/** Kraken's REST pair: XBTUSD (for /0/public/Trades?pair=). */
export const krakenRestPair = (m: MarketParts): string => `${krakenAsset(m.base)}${krakenAsset(m.quote)}`

/** A Kraken asset name in our naming: XBT → BTC, XDG → DOGE; others unchanged. */
export const fromKrakenAsset = (asset: string): string => fromKraken.get(asset) ?? asset

/** A venue's own symbol for a market, the one its trade frames carry (`s`, `product_id`, `symbol`). */
export const venueSymbol = (m: MarketParts): string => {
  switch (m.venue) {
    case "binance":
      return binanceSymbol(m)
    case "coinbase":
      return coinbaseProduct(m)
    case "kraken":
      return krakenSymbol(m)
    default:
      return `${m.base}-${m.quote}`
  }
}

/**
 * The markets of one venue by the symbol its frames carry, for reading frames back into markets. Binance's BTCUSDT
 * cannot be split without knowing the quotes, so the lookup is built from the markets subscribed to; Kraken's
 * frames may say XBT/USD as well as BTC/USD, so both are keys.
 */
export const symbolIndex = (markets: ReadonlyArray<MarketParts>): ReadonlyMap<string, Market> => {
  const index = new Map<string, Market>()
  for (const m of markets) {
    index.set(venueSymbol(m), formatMarket(m))
    if (m.venue === "kraken") index.set(`${krakenAsset(m.base)}/${krakenAsset(m.quote)}`, formatMarket(m))
  }
  return index
}
