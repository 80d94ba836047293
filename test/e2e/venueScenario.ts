import type { Market } from "../../src/Domain/Market.js"
import { mulberry32 } from "../../support/random.mjs"
import { sleep } from "../../support/waiting.mjs"
import { type FakeVenue, type FakeVenueName, startFakeVenue } from "../support/FakeVenue.js"
import { type ReferenceCandle, referenceCandles, type StoredCandle } from "../support/Reference.js"

/**
 * The "Done when" run of issue 15, shared by the embedded and the real-services suites: three fake venues on loopback,
 * the built CLI pointed at them with SOURCE=binance,coinbase,kraken, a seeded random schedule of trades, disconnects,
 * fillable gaps (trades only REST has), unfillable gaps (ids no one has) and duplicates. What the fakes made is the
 * truth: every trade they serve once, every 1m candle the reference fold over it, every lost range a gap.
 */

export const venueNames: ReadonlyArray<FakeVenueName> = ["binance", "coinbase", "kraken"]
const pairsOf: Record<FakeVenueName, ReadonlyArray<string>> = {
  binance: ["BTC-USDT", "ETH-USDT"],
  coinbase: ["BTC-USD", "ETH-USD"],
  kraken: ["BTC-USD", "ETH-USD"]
}
export const startTime = Date.UTC(2024, 0, 1)

export interface Fakes {
  readonly venues: ReadonlyMap<FakeVenueName, FakeVenue>
  readonly markets: ReadonlyArray<Market>
  readonly close: () => Promise<void>
}

export const startFakes = async (): Promise<Fakes> => {
  const venues = new Map<FakeVenueName, FakeVenue>()
  for (const venue of venueNames) {
    const markets = pairsOf[venue].map((p) => `${venue}:${p}` as Market)
    // A second apart: each market's trades span a few 1m candles.
    venues.set(venue, await startFakeVenue({ venue, markets, startTime, spacingMs: 1000 }))
  }
  return {
    venues,
    markets: venueNames.flatMap((v) => pairsOf[v].map((p) => `${v}:${p}` as Market)),
    close: async () => {
      for (const f of venues.values()) await f.close()
    }
  }
}

/** The environment that points the CLI at the fakes. */
export const venueEnv = (fakes: Fakes): Record<string, string> => {
  const env: Record<string, string> = { SOURCE: venueNames.join(","), MARKETS: fakes.markets.join(",") }
  for (const [venue, fake] of fakes.venues) {
    env[`${venue.toUpperCase()}_WS_URL`] = fake.wsUrl
    env[`${venue.toUpperCase()}_REST_URL`] = fake.restUrl
  }
  return env
}

type Step =
  | { readonly op: "send" | "gap" | "lose"; readonly venue: FakeVenueName; readonly market: Market; readonly n: number }
  | { readonly op: "disconnect" | "duplicate"; readonly venue: FakeVenueName; readonly n: number }

const pick = <A>(rng: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(rng() * xs.length)] as A

/** `count` random steps from `seed`: mostly trades, with disconnects, both kinds of gap and duplicates among them. */
export const schedule = (seed: number, fakes: Fakes, count: number): ReadonlyArray<Step> => {
  const rng = mulberry32(seed)
  const ops = ["send", "send", "send", "send", "gap", "lose", "disconnect", "duplicate"] as const
  const random = Array.from({ length: count }, (): Step => {
    const venue = pick(rng, venueNames)
    const market = pick(
      rng,
      fakes.markets.filter((m) => m.startsWith(`${venue}:`))
    )
    const op = pick(rng, ops)
    if (op === "disconnect" || op === "duplicate") return { op, venue, n: 1 + Math.floor(rng() * 3) }
    return { op, venue, market, n: op === "lose" ? 1 + Math.floor(rng() * 3) : 1 + Math.floor(rng() * 15) }
  })
  // Whatever the seed, every venue gets each kind of trouble at least once, halfway through.
  const sure = venueNames.flatMap((venue): Array<Step> => {
    const market = fakes.markets.find((m) => m.startsWith(`${venue}:`)) as Market
    return [
      { op: "lose", venue, market, n: 2 },
      { op: "send", venue, market, n: 3 },
      { op: "gap", venue, market, n: 5 },
      { op: "send", venue, market, n: 3 },
      { op: "disconnect", venue, n: 1 },
      { op: "send", venue, market, n: 4 }
    ]
  })
  const half = Math.floor(random.length / 2)
  return [...random.slice(0, half), ...sure, ...random.slice(half)]
}

/** What a schedule does, for the log. */
export const describeSchedule = (steps: ReadonlyArray<Step>): string => {
  const counts = new Map<string, number>()
  for (const s of steps) counts.set(s.op, (counts.get(s.op) ?? 0) + 1)
  return [...counts].map(([op, n]) => `${n} ${op}`).join(", ")
}

/** Plays the steps (a short pause after each lets frames flow; nothing is asserted on time). */
export const play = async (fakes: Fakes, steps: ReadonlyArray<Step>) => {
  for (const s of steps) {
    const fake = fakes.venues.get(s.venue) as FakeVenue
    if (s.op === "send") fake.send(s.market, s.n)
    else if (s.op === "gap") fake.gap(s.market, s.n)
    else if (s.op === "lose") fake.lose(s.market, s.n)
    else if (s.op === "duplicate") fake.duplicate(s.n)
    else fake.disconnect()
    await sleep(s.op === "disconnect" ? 150 : 20)
  }
}

/** `promise`, or a failure naming what did not happen within `ms` (a bound on waiting, not a timing assertion). */
const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const subscribedAll = async (fakes: Fakes) => {
  for (const [venue, fake] of fakes.venues) await within(fake.subscribed(1), 60_000, `a client subscribed to ${venue}`)
}

/** Each market's first trade, once every fake has a subscribed client: ids before it are not the source's to know. */
export const warmUp = async (fakes: Fakes) => {
  await subscribedAll(fakes)
  for (const m of fakes.markets) fakes.venues.get(m.split(":")[0] as FakeVenueName)?.send(m, 1)
}

/** After the schedule: every fake subscribed again, then a last trade per market, so every gap is seen. */
export const finish = async (fakes: Fakes) => {
  await sleep(500)
  await subscribedAll(fakes)
  for (const m of fakes.markets) fakes.venues.get(m.split(":")[0] as FakeVenueName)?.send(m, 2)
}

const fakeOf = (fakes: Fakes, market: Market) => fakes.venues.get(market.split(":")[0] as FakeVenueName) as FakeVenue

/** The reference 1m candles of every market, keyed by referenceKey(market, "1m", start). */
export const referenceOf = (fakes: Fakes): Map<string, ReferenceCandle> =>
  referenceCandles(
    fakes.markets.flatMap((m) =>
      fakeOf(fakes, m)
        .trades(m)
        .map((t) => ({ symbol: m, eventTime: t.time, price: Number(t.price), volume: Number(t.size) }))
    ),
    [["1m", 60_000]]
  )

/** Every market's served trade ids: the truth the stored ticks must equal. */
export const tradeIdsOf = (fakes: Fakes, market: Market): ReadonlyArray<number> =>
  fakeOf(fakes, market)
    .trades(market)
    .map((t) => t.tradeId)

/** The ids no one has, per market, as inclusive ranges in id order: the unfilled gaps to expect. */
export const lostRanges = (fakes: Fakes, market: Market): ReadonlyArray<readonly [number, number]> => {
  const ids = tradeIdsOf(fakes, market)
  const out: Array<readonly [number, number]> = []
  for (let i = 1; i < ids.length; i++) {
    const before = ids[i - 1] as number
    const after = ids[i] as number
    if (after > before + 1) out.push([before + 1, after - 1])
  }
  return out
}

/** A stored candle with the market as its key (the reference keys by market). */
export const asStored = (market: Market, c: Omit<StoredCandle, "symbol">): StoredCandle => ({ ...c, symbol: market })
