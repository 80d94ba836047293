import { Either, type ParseResult, Schema } from "effect"
import { Gap } from "../Domain/Gap.js"
import { Kline } from "../Domain/Kline.js"
import { decodeTick, type Tick, tickFromJson } from "../Domain/Tick.js"

/**
 * A record of the prices topic (docs/markets.md, "Bus records"; docs/completeness.md, "The bus"): a gap when its JSON
 * object has `type: "gap"`, a venue's kline when it has `type: "kline"`, anything else is read as a tick. The JSON is
 * parsed once; ticks go through `tickFromJson`, gaps and klines (rare) through their schemas.
 */
export type PriceRecord = Tick | Gap | Kline

const decodeGap = Schema.decodeUnknownEither(Gap)
const decodeKline = Schema.decodeUnknownEither(Kline)

export const decodeRecord = (text: string): Either.Either<PriceRecord, ParseResult.ParseError> => {
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch {
    return decodeTick(text) // its error says why
  }
  if (typeof u === "object" && u !== null) {
    const type = (u as { readonly type?: unknown }).type
    if (type === "gap") return decodeGap(u)
    if (type === "kline") return decodeKline(u)
  }
  const tick = tickFromJson(u)
  return tick === undefined ? decodeTick(text) : Either.right(tick)
}

export const isGap = (r: PriceRecord): r is Gap => r instanceof Gap
export const isKline = (r: PriceRecord): r is Kline => r instanceof Kline
