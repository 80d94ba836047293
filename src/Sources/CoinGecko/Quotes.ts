import { Either, Predicate, Schema } from "effect"
import type { Tick } from "../../Domain/Tick.js"
import { describeParseError, shorten } from "../../Text.js"
import { decodeTickFields } from "../Source.js"

const NullableNumber = Schema.optional(Schema.NullOr(Schema.Number))

/** One coin in a /simple/price answer (vs_currencies=usd). The parameter says 24hr, the answer says 24h. Any field may be null. */
export const SimplePriceQuote = Schema.Struct({
  usd: NullableNumber,
  usd_market_cap: NullableNumber,
  usd_24h_vol: NullableNumber,
  usd_24h_change: NullableNumber,
  /** Unix seconds. */
  last_updated_at: NullableNumber
})
export type SimplePriceQuote = typeof SimplePriceQuote.Type

const decodeQuote = Schema.decodeUnknownEither(SimplePriceQuote)

/** What one /simple/price answer gives: the ticks worth publishing, the repeats, and each coin left out with why. */
export interface Snapshot {
  readonly ticks: ReadonlyArray<Tick>
  /** Coins whose last_updated_at did not advance since the last published tick. */
  readonly unchanged: ReadonlyArray<string>
  /** Coin id → why no tick came from it (missing from the answer, null price, …). */
  readonly problems: ReadonlyMap<string, string>
}

export interface SnapshotInput {
  readonly coins: ReadonlyArray<string>
  readonly symbolOf: (coinId: string) => string
  /** Ingest time, epoch ms. */
  readonly now: number
  /** Per coin, the event time of the last tick published. */
  readonly lastPublished: ReadonlyMap<string, number>
}

const finite = (n: number | null | undefined): n is number => typeof n === "number" && Number.isFinite(n)
const nonNegative = (n: number | null | undefined): n is number => finite(n) && n >= 0

/**
 * Reads a /simple/price body. Pure and total: any JSON value gives either a Snapshot or, when the body is not
 * an object keyed by coin id, a description of what it was. Coins are never invented: one missing or without a
 * usable price or time is reported in `problems`. Optional numbers that are null, not finite or (for cap and
 * volume) negative are left out of the tick.
 */
export const readSnapshot = (body: unknown, input: SnapshotInput): Either.Either<Snapshot, string> => {
  if (!Predicate.isRecord(body)) {
    return Either.left(
      `expected an object keyed by coin id, got ${Array.isArray(body) ? "an array" : body === null ? "null" : typeof body}`
    )
  }
  const ticks: Array<Tick> = []
  const unchanged: Array<string> = []
  const problems = new Map<string, string>()
  for (const coinId of input.coins) {
    if (!Object.hasOwn(body, coinId)) {
      problems.set(coinId, "missing from the answer")
      continue
    }
    const entry = body[coinId]
    if (!Predicate.isRecord(entry)) {
      problems.set(coinId, `expected an object, got ${shorten(JSON.stringify(entry) ?? String(entry), 60)}`)
      continue
    }
    const quote = decodeQuote(entry)
    if (Either.isLeft(quote)) {
      problems.set(coinId, `undecodable quote: ${describeParseError(quote.left, 200)}`)
      continue
    }
    const q = quote.right
    if (q.usd === undefined || q.usd === null) {
      problems.set(coinId, `usd is ${q.usd === null ? "null" : "absent"}`)
      continue
    }
    if (!finite(q.last_updated_at)) {
      problems.set(coinId, `last_updated_at is ${q.last_updated_at === null ? "null" : "absent"}`)
      continue
    }
    const eventTime = Math.round(q.last_updated_at * 1000)
    const previous = input.lastPublished.get(coinId)
    if (previous !== undefined && eventTime <= previous) {
      unchanged.push(coinId)
      continue
    }
    const tick = decodeTickFields({
      symbol: input.symbolOf(coinId),
      coinId,
      price: q.usd,
      ...(nonNegative(q.usd_24h_vol) ? { volume24h: q.usd_24h_vol } : {}),
      ...(nonNegative(q.usd_market_cap) ? { marketCap: q.usd_market_cap } : {}),
      ...(finite(q.usd_24h_change) ? { change24h: q.usd_24h_change } : {}),
      eventTime,
      source: "coingecko",
      ingestTime: input.now
    })
    if (Either.isLeft(tick)) {
      problems.set(
        coinId,
        `not a valid tick (usd ${q.usd}, last_updated_at ${q.last_updated_at}): ${describeParseError(tick.left, 200)}`
      )
      continue
    }
    ticks.push(tick.right)
  }
  return Either.right({ ticks, unchanged, problems })
}
