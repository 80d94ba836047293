import { Option, Schema } from "effect"
import { Candle } from "./Candle.js"
import { type Interval, intervals } from "./Interval.js"
import { isEpochMillis, symbolPattern, Tick, tickFromJson } from "./Tick.js"

/** What the processor announces on the live channel (Redis PUBLISH crypto:updates) and SSE relays. */
export const Update = Schema.Union(
  Schema.TaggedStruct("tick", { tick: Tick }),
  Schema.TaggedStruct("candle", { candle: Candle })
)
export type Update = typeof Update.Type

export const UpdateJson = Schema.parseJson(Update)

const decodeUpdateJson = Schema.decodeUnknownOption(UpdateJson)
const isNumber = (u: unknown): u is number => typeof u === "number"
const isInterval = (u: unknown): u is Interval => intervals.some((i) => i === u)

/** The Candle in a parsed JSON value, checked by hand with the schema's rules (see `tickFromJson`); undefined if not. */
const candleFromJson = (u: unknown): Candle | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const { symbol, interval, bucketStart, open, high, low, close, volume, tickCount, vwap } = u as Record<
    string,
    unknown
  >
  if (
    typeof symbol !== "string" ||
    !symbolPattern.test(symbol) ||
    !isInterval(interval) ||
    !isEpochMillis(bucketStart) ||
    !isNumber(open) ||
    !isNumber(high) ||
    !isNumber(low) ||
    !isNumber(close) ||
    !isNumber(volume) ||
    !isNumber(tickCount) ||
    !Number.isSafeInteger(tickCount) ||
    !isNumber(vwap)
  )
    return undefined
  return new Candle({ symbol, interval, bucketStart, open, high, low, close, volume, tickCount, vwap }, true)
}

/**
 * `Schema.decodeUnknownOption(UpdateJson)`, checked by hand first: the live channel carries every tick and candle
 * update, and each subscriber decodes each one. Anything the hand checks do not accept goes through the schema.
 */
export const decodeUpdate = (text: string): Option.Option<Update> => {
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch {
    return Option.none()
  }
  if (typeof u === "object" && u !== null) {
    const { _tag, tick, candle } = u as Record<string, unknown>
    if (_tag === "tick") {
      const t = tickFromJson(tick)
      if (t !== undefined) return Option.some({ _tag, tick: t })
    } else if (_tag === "candle") {
      const c = candleFromJson(candle)
      if (c !== undefined) return Option.some({ _tag, candle: c })
    }
  }
  return decodeUpdateJson(text)
}
