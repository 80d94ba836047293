/** A CoinGecko coin id as COINS, REPLAY_COIN and `backfill --coins` accept it: bitcoin, usd-coin. */
export const isCoinId = (id: string): boolean => /^[a-z0-9-]{1,64}$/.test(id)

/** What we know about the default coins: ticker symbol, name and a realistic starting point for the simulator. */
export interface CoinInfo {
  readonly id: string
  readonly symbol: string
  readonly name: string
  /** Simulator start price, USD (late-2025 levels). */
  readonly price: number
  /** Simulator annualised volatility. */
  readonly volatility: number
  readonly marketCap: number
  readonly volume24h: number
}

export const knownCoins: ReadonlyArray<CoinInfo> = [
  {
    id: "bitcoin",
    symbol: "BTC",
    name: "Bitcoin",
    price: 95_000,
    volatility: 0.55,
    marketCap: 1.89e12,
    volume24h: 4.5e10
  },
  {
    id: "ethereum",
    symbol: "ETH",
    name: "Ethereum",
    price: 3_300,
    volatility: 0.7,
    marketCap: 3.98e11,
    volume24h: 2.2e10
  },
  { id: "tether", symbol: "USDT", name: "Tether", price: 1, volatility: 0.01, marketCap: 1.84e11, volume24h: 7.5e10 },
  { id: "binancecoin", symbol: "BNB", name: "BNB", price: 900, volatility: 0.5, marketCap: 1.25e11, volume24h: 2.1e9 },
  { id: "ripple", symbol: "XRP", name: "XRP", price: 2.2, volatility: 0.85, marketCap: 1.32e11, volume24h: 4.1e9 },
  { id: "usd-coin", symbol: "USDC", name: "USDC", price: 1, volatility: 0.01, marketCap: 7.5e10, volume24h: 9.8e9 },
  { id: "cardano", symbol: "ADA", name: "Cardano", price: 0.45, volatility: 0.9, marketCap: 1.62e10, volume24h: 7.2e8 },
  { id: "stellar", symbol: "XLM", name: "Stellar", price: 0.25, volatility: 0.9, marketCap: 8.0e9, volume24h: 2.5e8 },
  {
    id: "chainlink",
    symbol: "LINK",
    name: "Chainlink",
    price: 14,
    volatility: 0.85,
    marketCap: 9.5e9,
    volume24h: 6.0e8
  },
  { id: "litecoin", symbol: "LTC", name: "Litecoin", price: 90, volatility: 0.75, marketCap: 6.9e9, volume24h: 5.5e8 }
]

const byId = new Map(knownCoins.map((c) => [c.id, c]))

/** A coin we have no facts for still gets a stable, valid symbol (upper-case alphanumerics of its id). */
export const coinInfo = (id: string): CoinInfo =>
  byId.get(id) ?? {
    id,
    symbol:
      id
        .replace(/[^a-z0-9]/gi, "")
        .toUpperCase()
        .slice(0, 10) || "COIN",
    name: id,
    price: 100,
    volatility: 0.8,
    marketCap: 1e9,
    volume24h: 1e8
  }
