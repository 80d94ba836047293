import { Option, Predicate, Schema } from "effect"
import { Candle } from "./Candle.js"
import type { CandleStatus, GapRef } from "./Completeness.js"
import { Gap } from "./Gap.js"
import { type BollingerBands, type IndicatorValues, IndicatorValuesSchema } from "./Indicators.js"
import { type Interval, intervals } from "./Interval.js"
import { isMarket } from "./Market.js"
import { isEpochMillis, symbolPattern, Tick, tickFromJson } from "./Tick.js"

/**
 * What the processor announces on the live channel (Redis PUBLISH crypto:updates) and SSE relays. A candle goes with
 * its indicator values (provisional while it is open), so no subscriber computes them again. A gap is a market's
 * trade ids the source could not deliver (docs/markets.md).
 */
export const Update = Schema.Union(
  Schema.TaggedStruct("tick", { tick: Tick }),
  Schema.TaggedStruct("candle", { candle: Candle, indicators: IndicatorValuesSchema }),
  Schema.TaggedStruct("gap", { gap: Gap })
)
export type Update = typeof Update.Type

export const UpdateJson = Schema.parseJson(Update)

const decodeUpdateJson = Schema.decodeUnknownOption(UpdateJson)
const isNumber = (u: unknown): u is number => typeof u === "number"
const isInterval = (u: unknown): u is Interval => intervals.some((i) => i === u)

const isTradeId = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0
const isNullOrTradeId = (u: unknown): u is number | null => u === null || isTradeId(u)
const isStatus = (u: unknown): u is CandleStatus => u === "provisional" || u === "final" || u === "gap"

/** A candle's `gaps`, checked by hand as GapRef objects (built anew: no excess keys kept); undefined if not. */
const gapRefsFromJson = (u: unknown): Array<GapRef> | undefined => {
  if (!Array.isArray(u)) return undefined
  const refs: Array<GapRef> = []
  for (const ref of u) {
    if (!Predicate.isRecord(ref)) return undefined
    const { fromId, toId } = ref
    if (!isTradeId(fromId) || !isTradeId(toId)) return undefined
    refs.push({ fromId, toId })
  }
  return refs
}

/** The Candle in a parsed JSON value, checked by hand with the schema's rules (see `tickFromJson`); undefined if not. */
const candleFromJson = (u: unknown): Candle | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const { market, symbol, interval, bucketStart, open, high, low, close, volume, tickCount, vwap } = u as Record<
    string,
    unknown
  >
  const { status, firstTradeId, lastTradeId } = u as Record<string, unknown>
  const gaps = gapRefsFromJson((u as Record<string, unknown>)["gaps"])
  if (
    !isMarket(market) ||
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
    !isNumber(vwap) ||
    !isStatus(status) ||
    gaps === undefined ||
    !isNullOrTradeId(firstTradeId) ||
    !isNullOrTradeId(lastTradeId)
  )
    return undefined
  return new Candle(
    {
      market,
      symbol,
      interval,
      bucketStart,
      open,
      high,
      low,
      close,
      volume,
      tickCount,
      vwap,
      status,
      gaps,
      firstTradeId,
      lastTradeId
    },
    true
  )
}

const isNullOrNumber = (u: unknown): u is number | null => u === null || isNumber(u)

const bandsFromJson = (u: unknown): BollingerBands | null | undefined => {
  if (u === null) return null
  if (!Predicate.isRecord(u)) return undefined
  const { middle, upper, lower } = u
  return isNumber(middle) && isNumber(upper) && isNumber(lower) ? { middle, upper, lower } : undefined
}

/** IndicatorValues in a parsed JSON value, checked by hand (keys in the schema's order); undefined if not. */
const indicatorsFromJson = (u: unknown): IndicatorValues | undefined => {
  if (!Predicate.isRecord(u)) return undefined
  const { sma20, sma50, ema12, ema26, rsi14 } = u
  const bollinger = bandsFromJson(u["bollinger"])
  if (
    !isNullOrNumber(sma20) ||
    !isNullOrNumber(sma50) ||
    !isNullOrNumber(ema12) ||
    !isNullOrNumber(ema26) ||
    !isNullOrNumber(rsi14) ||
    bollinger === undefined
  )
    return undefined
  return { sma20, sma50, ema12, ema26, rsi14, bollinger }
}

/**
 * `Schema.decodeUnknownOption(UpdateJson)`, checked by hand first: the live channel carries every tick and candle
 * update, and each subscriber decodes each one. Anything the hand checks do not accept goes through the schema
 * (as gaps always do: they are rare).
 */
export const decodeUpdate = (text: string): Option.Option<Update> => {
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch {
    return Option.none()
  }
  if (typeof u === "object" && u !== null) {
    const { _tag, tick, candle, indicators } = u as Record<string, unknown>
    if (_tag === "tick") {
      const t = tickFromJson(tick)
      if (t !== undefined) return Option.some({ _tag, tick: t })
    } else if (_tag === "candle") {
      const c = candleFromJson(candle)
      const i = indicatorsFromJson(indicators)
      if (c !== undefined && i !== undefined) return Option.some({ _tag, candle: c, indicators: i })
    }
  }
  return decodeUpdateJson(text)
}
