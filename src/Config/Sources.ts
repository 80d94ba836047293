import { Config, ConfigError, Either, Option } from "effect"
import { formatMarket, type Market, type MarketParts, parseMarketInput } from "../Domain/Market.js"

/** The venues whose trades we stream (docs/markets.md "Configuration"). */
export const tradeVenues = ["binance", "coinbase", "kraken"] as const
export type TradeVenue = (typeof tradeVenues)[number]
const isTradeVenue = (s: string): s is TradeVenue => (tradeVenues as ReadonlyArray<string>).includes(s)

/** One entry of SOURCE. A replay path is told apart (venue recording or tick file) when the source opens it. */
export type SourceSetting =
  | { readonly _tag: "auto" }
  | { readonly _tag: "coingecko" }
  | { readonly _tag: "simulator" }
  | { readonly _tag: "replay"; readonly file: string }
  | { readonly _tag: "venue"; readonly venue: TradeVenue }

const sourceForms = "auto, coingecko, simulator, binance, coinbase, kraken or replay:<path>"

const parseEntry = (raw: string): Either.Either<SourceSetting, string> => {
  const value = raw.trim()
  if (value === "auto" || value === "coingecko" || value === "simulator") return Either.right({ _tag: value })
  if (isTradeVenue(value)) return Either.right({ _tag: "venue", venue: value })
  if (value.startsWith("replay:") && value.length > "replay:".length) {
    return Either.right({ _tag: "replay", file: value.slice("replay:".length) })
  }
  return Either.left(`unknown source "${value}": expected ${sourceForms}`)
}

const settingName = (s: SourceSetting): string =>
  s._tag === "venue" ? s.venue : s._tag === "replay" ? `replay:${s.file}` : s._tag

/** SOURCE's comma list → the sources, each once; `auto` (CoinGecko or the simulator) not beside either of them. */
export const parseSources = (raw: string): Either.Either<ReadonlyArray<SourceSetting>, string> => {
  const entries = raw.split(",").map((s) => s.trim())
  if (entries.every((e) => e.length === 0)) return Either.left(`expected a comma list of ${sourceForms}, got "${raw}"`)
  const out: Array<SourceSetting> = []
  for (const entry of entries) {
    if (entry.length === 0) return Either.left(`empty entry in "${raw}": expected a comma list of ${sourceForms}`)
    const parsed = parseEntry(entry)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const name = settingName(parsed.right)
    if (out.some((s) => settingName(s) === name)) return Either.left(`"${name}" is listed twice in "${raw}"`)
    out.push(parsed.right)
  }
  const tags = new Set(out.map((s) => s._tag))
  if (tags.has("auto") && (tags.has("coingecko") || tags.has("simulator"))) {
    return Either.left(
      `"auto" already means coingecko or else simulator: list it alone or name one of them, got "${raw}"`
    )
  }
  return Either.right(out)
}

/** The venue sources listed in SOURCE, in order. */
export const venuesOf = (sources: ReadonlyArray<SourceSetting>): ReadonlyArray<TradeVenue> =>
  sources.flatMap((s) => (s._tag === "venue" ? [s.venue] : []))

/** MARKETS when unset: ten liquid pairs per venue source (Binance against USDT, Coinbase and Kraken against USD). */
export const defaultVenueMarkets: Readonly<Record<TradeVenue, ReadonlyArray<Market>>> = {
  binance: pairs("binance", "USDT", ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "TRX"]),
  coinbase: pairs("coinbase", "USD", ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC", "DOT"]),
  kraken: pairs("kraken", "USD", ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC", "DOT"])
}

function pairs(venue: TradeVenue, quote: string, bases: ReadonlyArray<string>): ReadonlyArray<Market> {
  return bases.map((base) => formatMarket({ venue, base, quote }))
}

/** A comma list of markets, each once, in their canonical form; `what` names the variable in messages. */
export const parseMarketList = (raw: string): Either.Either<ReadonlyArray<MarketParts>, string> => {
  const out: Array<MarketParts> = []
  const seen = new Set<string>()
  for (const entry of raw.split(",").map((s) => s.trim())) {
    if (entry.length === 0) continue
    const parsed = parseMarketInput(entry)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    const market = formatMarket(parsed.right)
    if (seen.has(market)) return Either.left(`${market} is listed twice`)
    seen.add(market)
    out.push(parsed.right)
  }
  return out.length > 0
    ? Either.right(out)
    : Either.left(`expected a comma list of markets such as "binance:BTC-USDT,kraken:BTC-USD", got "${raw}"`)
}

/**
 * MARKETS against SOURCE: each market's venue must be a venue source (a replay may carry any venue's markets), and
 * each venue source needs a market. Unset: the default ten of every venue source.
 */
export const resolveMarkets = (
  sources: ReadonlyArray<SourceSetting>,
  raw: Option.Option<string>
): Either.Either<ReadonlyArray<Market>, string> => {
  const venues = venuesOf(sources)
  const replaying = sources.some((s) => s._tag === "replay")
  if (Option.isNone(raw) || raw.value.trim().length === 0) {
    // A venue recording is read against its markets: unset, every venue's default ten.
    return Either.right((replaying ? tradeVenues : venues).flatMap((v) => defaultVenueMarkets[v]))
  }
  const parsed = parseMarketList(raw.value)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  for (const m of parsed.right) {
    if (!isTradeVenue(m.venue)) {
      return Either.left(
        `${formatMarket(m)}: MARKETS lists trade markets (binance, coinbase, kraken); coingecko and simulator take COINS`
      )
    }
    if (!replaying && !venues.includes(m.venue)) {
      return Either.left(`${formatMarket(m)}: its venue ${m.venue} is not in SOURCE (add ${m.venue} to SOURCE)`)
    }
  }
  const empty = venues.find((v) => !parsed.right.some((m) => m.venue === v))
  if (empty !== undefined) return Either.left(`SOURCE has ${empty} but MARKETS lists none of its markets`)
  return Either.right(parsed.right.map(formatMarket))
}

const wsForm = /^wss?:$/
const httpForm = /^https?:$/

const baseUrl = (name: string, fallback: string, protocols: RegExp, example: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((raw) => {
      const value = raw.trim().length === 0 ? fallback : raw.trim()
      try {
        if (protocols.test(new URL(value).protocol)) return Either.right(value.replace(/\/+$/, ""))
      } catch {
        // reported below
      }
      return Either.left(ConfigError.InvalidData([name], `expected a URL such as "${example}", got "${raw}"`))
    })
  )

/** The public endpoints; tests and mirrors point them elsewhere. Binance's client adds /ws or /stream itself. */
export const venueUrlDefaults = {
  binance: { ws: "wss://stream.binance.com:9443", rest: "https://api.binance.com" },
  coinbase: { ws: "wss://ws-feed.exchange.coinbase.com", rest: "https://api.exchange.coinbase.com" },
  kraken: { ws: "wss://ws.kraken.com/v2", rest: "https://api.kraken.com" }
} as const

const urls = (venue: TradeVenue) => {
  const upper = venue.toUpperCase()
  const d = venueUrlDefaults[venue]
  return Config.all({
    ws: baseUrl(`${upper}_WS_URL`, d.ws, wsForm, d.ws),
    rest: baseUrl(`${upper}_REST_URL`, d.rest, httpForm, d.rest)
  })
}

export const VenueUrlsConfig = Config.all({
  binance: urls("binance"),
  coinbase: urls("coinbase"),
  kraken: urls("kraken")
})
export type VenueUrlsConfig = Config.Config.Success<typeof VenueUrlsConfig>

/** SOURCE and MARKETS together (MARKETS is checked against SOURCE), the venues' URLs and RECORD_FRAMES. */
export const SourcesConfig = Config.all({
  sources: Config.string("SOURCE").pipe(
    Config.withDefault("auto"),
    Config.mapOrFail((raw) => Either.mapLeft(parseSources(raw), (m) => ConfigError.InvalidData(["SOURCE"], m)))
  ),
  rawMarkets: Config.string("MARKETS").pipe(Config.option),
  venueUrls: VenueUrlsConfig,
  /** RECORD_FRAMES=<dir>: every venue's raw frames to <dir>/<venue>.jsonl. */
  recordFrames: Config.string("RECORD_FRAMES").pipe(
    Config.option,
    Config.map(Option.filter((s) => s.trim().length > 0)),
    Config.map(Option.map((s) => s.trim()))
  )
}).pipe(
  Config.mapOrFail(({ rawMarkets, ...rest }) =>
    Either.match(resolveMarkets(rest.sources, rawMarkets), {
      onLeft: (m) => Either.left(ConfigError.InvalidData(["MARKETS"], m)),
      onRight: (markets) => Either.right({ ...rest, markets })
    })
  )
)

/** DEFAULT_MARKETS: which market a bare symbol in a URL means first (docs/markets.md "Markets"); none by default. */
export const DefaultMarketsConfig = Config.string("DEFAULT_MARKETS").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) =>
    raw.trim().length === 0
      ? Either.right<ReadonlyArray<Market>>([])
      : Either.match(parseMarketList(raw), {
          onLeft: (m) => Either.left(ConfigError.InvalidData(["DEFAULT_MARKETS"], m)),
          onRight: (ms) => Either.right(ms.map(formatMarket))
        })
  )
)
