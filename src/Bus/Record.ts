import { Either, type ParseResult, Schema } from "effect"
import { Gap } from "../Domain/Gap.js"
import { decodeTick, type Tick, tickFromJson } from "../Domain/Tick.js"

/**
 * A record of the prices topic (docs/markets.md, "Bus records"): a gap when its JSON object has `type: "gap"`,
 * anything else is read as a tick. The JSON is parsed once; ticks go through `tickFromJson`, gaps (rare) through
 * the schema.
 */
export type PriceRecord = Tick | Gap

const decodeGap = Schema.decodeUnknownEither(Gap)

export const decodeRecord = (text: string): Either.Either<PriceRecord, ParseResult.ParseError> => {
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch {
    return decodeTick(text) // its error says why
  }
  if (typeof u === "object" && u !== null && (u as { readonly type?: unknown }).type === "gap") return decodeGap(u)
  const tick = tickFromJson(u)
  return tick === undefined ? decodeTick(text) : Either.right(tick)
}

export const isGap = (r: PriceRecord): r is Gap => r instanceof Gap
