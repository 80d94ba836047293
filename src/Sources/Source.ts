import { Data, Schema } from "effect"
import { type Gap, GapJson } from "../Domain/Gap.js"
import { type Kline, KlineJson } from "../Domain/Kline.js"
import { marketOf, Tick, TickJson } from "../Domain/Tick.js"

/** A source failed in a way worth retrying or reporting; `reason` is closed so callers can count by kind. */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: "coingecko" | "simulator" | "replay" | "binance" | "coinbase" | "kraken"
  readonly reason:
    | "unavailable" // connection refused or reset, 5xx, a CDN block
    | "rate-limited" // 429
    | "bad-response" // an answer that is not JSON or does not decode
    | "timeout"
    | "unauthorized" // the API key is missing, wrong or for the other plan: retrying cannot help
    | "rejected" // any other 4xx (a wrong base URL, a bad request): retrying cannot help
    | "bad-input" // a replay file that cannot be read as any supported format
    | "not-implemented"
    | "io"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The Tick a source built from its fields, checked by the Tick schema (the slow path, for its error messages;
 * a source's fields are few). Not `decodeTick` (Domain/Tick.ts), which reads the bus's JSON text fast.
 */
export const decodeTickFields = Schema.decodeUnknownEither(Tick)

/**
 * What a source gives the bus: a tick (a sample or a trade), a gap in a market's trade ids (docs/markets.md), or a
 * venue's own closed 1m candle (docs/completeness.md).
 */
export type SourceRecord = Tick | Gap | Kline

export const isGap = (record: SourceRecord): record is Gap => (record as Partial<Gap>).type === "gap"
export const isKline = (record: SourceRecord): record is Kline => (record as Partial<Kline>).type === "kline"

const encodeTickJson = Schema.encodeSync(TickJson)
const encodeGapJson = Schema.encodeSync(GapJson)
const encodeKlineJson = Schema.encodeSync(KlineJson)

/** The bus key: the record's market, so each market's records keep their order in one partition. */
export const recordKey = (record: SourceRecord): string =>
  isGap(record) || isKline(record) ? record.market : marketOf(record)

/** The record's JSON on the bus: Tick JSON, Gap JSON (`"type":"gap"`) or Kline JSON (`"type":"kline"`). */
export const encodeRecord = (record: SourceRecord): string =>
  isGap(record) ? encodeGapJson(record) : isKline(record) ? encodeKlineJson(record) : encodeTickJson(record)

export const isTick = (record: SourceRecord): record is Tick => !isGap(record) && !isKline(record)
