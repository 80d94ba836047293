import { Context, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { LatestCache } from "../Cache/LatestCache.js"
import { formatMarket, Market, marketParts, parseMarketInput, type Venue, venues } from "../Domain/Market.js"
import { marketOf, Ticker } from "../Domain/Tick.js"
import { Store } from "../Store/Store.js"
import { anchored } from "./Params.js"

// == what a URL names: a market, or a bare symbol that means its default market (docs/markets.md, "Markets")

/** What a parameter names: a market, or a bare symbol (upper-cased). */
export const MarketRef = Schema.Union(
  Schema.TaggedStruct("Market", { market: Market }),
  Schema.TaggedStruct("Bare", { symbol: Ticker })
)
export type MarketRef = typeof MarketRef.Type

const asset = "[A-Za-z0-9]{1,15}"
const anyCase = (word: string) => [...word].map((c) => `[${c.toUpperCase()}${c}]`).join("")
const venueForm = `(?:${venues.map(anyCase).join("|")})`
/**
 * One market (a known venue, any case) or bare symbol; group `n` catches a market whose base is its quote. A regex
 * has no case-blind backreference: `binance:btc-BTC` passes the pattern and is still refused (400).
 */
const refForm = (n: number) => `(?![A-Za-z]+:(${asset})-\\${n}(?:,|$))(?:${venueForm}:${asset}-${asset}|${asset})`
/** A market (`binance:BTC-USDT`, any case) or a bare symbol (`BTC`): the form every `:symbol` parameter takes. */
export const marketRefPattern = anchored(refForm(1))

const refOf = (s: string): Either.Either<MarketRef, string> => {
  if (!s.includes(":")) return Either.right({ _tag: "Bare", symbol: s.toUpperCase() })
  return Either.map(parseMarketInput(s), (parts) => ({ _tag: "Market", market: formatMarket(parts) }))
}

/** Why a value is refused: the market's own reason (`unknown venue "nasdaq"`) where an entry names one, else `generic`. */
const explain = (generic: string) => (issue: ParseResult.ParseIssue) => {
  if (typeof issue.actual === "string") {
    for (const entry of issue.actual.split(",")) {
      const ref = refOf(entry)
      if (Either.isLeft(ref)) return ref.left
    }
  }
  return generic
}

/** A path or query parameter naming a market; case-insensitive (`Binance:btc-usdt` is binance:BTC-USDT). */
export const MarketParam = Schema.transformOrFail(
  Schema.String.pipe(
    Schema.pattern(marketRefPattern, {
      message: explain("expected a market venue:BASE-QUOTE (e.g. binance:BTC-USDT) or a symbol (e.g. BTC)")
    })
  ).annotations({
    description:
      "A market, venue:BASE-QUOTE (e.g. binance:BTC-USDT; the colon as is or as %3A; any case), or a bare symbol " +
      "(e.g. BTC), which means its default market: the first of DEFAULT_MARKETS with that base, else the known market " +
      "with that base first by venue (coingecko, simulator, binance, coinbase, kraken) then quote (USD, USDT, others), " +
      "else coingecko:SYMBOL-USD"
  }),
  Schema.typeSchema(MarketRef),
  {
    strict: true,
    decode: (s, _, ast) => Either.mapLeft(refOf(s), (message) => new ParseResult.Type(ast, s, message)),
    encode: (ref) => ParseResult.succeed(ref._tag === "Market" ? ref.market : ref.symbol)
  }
)

/** Most entries a `symbols` list may hold. */
export const maxListed = 100
export const marketListPattern = anchored(`${refForm(1)}(?:,${refForm(2)}){0,${maxListed - 1}}`)

/** `?symbols=`: a comma list of markets and bare symbols (a bare symbol asks for every market of that base). */
export const MarketListParam = Schema.transformOrFail(
  Schema.String.pipe(
    Schema.pattern(marketListPattern, {
      message: explain(
        `expected a comma-separated list of up to ${maxListed} markets (venue:BASE-QUOTE) or symbols, e.g. BTC,binance:ETH-USDT`
      )
    })
  ).annotations({
    description:
      `Up to ${maxListed} markets (venue:BASE-QUOTE, any case) and bare symbols, comma-separated: only the events of ` +
      "these markets, and of every market of each bare symbol (e.g. BTC,binance:ETH-USDT)"
  }),
  Schema.Array(Schema.typeSchema(MarketRef)),
  {
    strict: true,
    decode: (s, _, ast) =>
      Either.mapLeft(Either.all(s.split(",").map(refOf)), (message) => new ParseResult.Type(ast, s, message)),
    encode: (refs) => ParseResult.succeed(refs.map((r) => (r._tag === "Market" ? r.market : r.symbol)).join(","))
  }
)

/** A filter's keys: markets as `venue:BASE-QUOTE`, bare symbols as themselves (the two never collide: a colon). */
export const filterKeys = (refs: ReadonlyArray<MarketRef>): ReadonlySet<string> =>
  new Set(refs.map((r) => (r._tag === "Market" ? r.market : r.symbol)))

/** Whether an event of `market` (base `symbol`) passes a filter made by `filterKeys`. */
export const passes = (keys: ReadonlySet<string>, market: string | undefined, symbol: string | undefined) =>
  (market !== undefined && keys.has(market)) || (symbol !== undefined && keys.has(symbol))

// == the default market of a bare symbol

const venueRank: Record<Venue, number> = { coingecko: 0, simulator: 1, binance: 2, coinbase: 3, kraken: 4 }
const quoteRank = (quote: string) => (quote === "USD" ? 0 : quote === "USDT" ? 1 : 2)

/** The rule of docs/markets.md: DEFAULT_MARKETS first, then the known markets in venue and quote order, else CoinGecko's. */
export const defaultMarket = (
  symbol: string,
  defaults: ReadonlyArray<Market>,
  known: ReadonlyArray<Market>
): Market => {
  const configured = defaults.find((m) => marketParts(m).base === symbol)
  if (configured !== undefined) return configured
  let best: { readonly market: Market; readonly rank: ReadonlyArray<number | string> } | undefined
  for (const market of known) {
    const p = marketParts(market)
    if (p.base !== symbol) continue
    // Among "others", the quote's name decides, so the answer never depends on the order the list came in.
    const rank = [venueRank[p.venue], quoteRank(p.quote), p.quote]
    if (best === undefined || before(rank, best.rank)) best = { market, rank }
  }
  return best?.market ?? formatMarket({ venue: "coingecko", base: symbol, quote: "USD" })
}

const before = (a: ReadonlyArray<number | string>, b: ReadonlyArray<number | string>) => {
  for (let i = 0; i < a.length; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]!
  return false
}

// == the resolver: the known markets, cached briefly

/** How long the list of known markets is reused before it is read again. */
export const knownTtl = "2 seconds"

/**
 * The markets known to this process: the `markets` table and the latest cache's markets (a market has a latest tick
 * before its first checkpoint). Either may be down: what it gave last time stands in, else nothing.
 */
const knownMarkets = Effect.gen(function* () {
  const store = yield* Store
  const cache = yield* LatestCache
  let last: { table: ReadonlyArray<Market>; cache: ReadonlyArray<Market> } = { table: [], cache: [] }
  return Effect.gen(function* () {
    const table = yield* store.markets.pipe(
      Effect.map((rows) => rows.map((r) => r.market)),
      // A slow database must not hold up what only needs the cache (/api/latest/BTC): the last list stands in.
      Effect.timeout("1 second"),
      Effect.orElseSucceed(() => last.table)
    )
    const latest = yield* cache.getAll.pipe(
      Effect.map((ticks) => ticks.map(marketOf)),
      Effect.orElseSucceed(() => last.cache)
    )
    last = { table, cache: latest }
    return [...new Set([...table, ...latest])]
  })
})

export class MarketResolver extends Context.Tag("app/Http/MarketResolver")<
  MarketResolver,
  {
    /** The market a parameter names (a bare symbol: its default market now). */
    readonly resolve: (ref: MarketRef) => Effect.Effect<Market>
    /** The markets known now (the `markets` table and the latest cache), read at most every `knownTtl`. */
    readonly known: Effect.Effect<ReadonlyArray<Market>>
  }
>() {}

export const make = (defaults: ReadonlyArray<Market>) =>
  Effect.gen(function* () {
    const known = yield* Effect.cachedWithTTL(yield* knownMarkets, knownTtl)
    return MarketResolver.of({
      resolve: (ref) =>
        ref._tag === "Market"
          ? Effect.succeed(ref.market)
          : Effect.map(known, (k) => defaultMarket(ref.symbol, defaults, k)),
      known
    })
  })

export const layer = (defaults: ReadonlyArray<Market>) => Layer.effect(MarketResolver, make(defaults))

/** The symbol of a market (its base), for the `symbol` field every response keeps beside `market`. */
export const symbolOf = (market: Market): typeof Ticker.Type => marketParts(market).base
