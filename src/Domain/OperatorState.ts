import { Effect, type ParseResult, Schema } from "effect"
import { CandleState } from "./Aggregate.js"
import { RangesSchema, SeenSchema, seenToJson } from "./Dedupe.js"
import { emptyIndicatorState, IndicatorState } from "./Indicators.js"
import { Interval } from "./Interval.js"
import type { Market } from "./Market.js"
import { RecentSchema, RefsSchema } from "./OperatorChecks.js"
import { GapsSchema } from "./OperatorGaps.js"
import { fromLegacy } from "./OperatorLegacy.js"

/** The operator's state (src/Domain/Operator.ts): plain data, checkpointed as JSON with the partition's offset. */

const MarketState = Schema.Struct({
  /** Largest event time accepted; the watermark is this minus the allowed lateness. */
  maxEventTime: Schema.Number,
  /** Samples accepted, by source and event time. */
  seen: SeenSchema,
  /** Trades accepted, as id ranges (absent in checkpoints written before markets). */
  trades: Schema.optionalWith(RangesSchema, { default: () => [] }),
  /** The watermark at the last sweep of the dedupe sets (sweeping on every tick would cost the whole window each time). */
  sweptAt: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** Candles whose bucket has not closed yet, by candleKey. */
  open: Schema.mutable(Schema.Record({ key: Schema.String, value: CandleState })),
  /** Indicator state over closed candles, per interval. */
  indicators: Schema.mutable(Schema.Record({ key: Interval, value: IndicatorState })),
  // Completeness (docs/completeness.md): absent in checkpoints written before it.
  /** Unfilled gaps that may still touch an open candle. */
  gaps: Schema.optionalWith(GapsSchema, { default: () => [] }),
  /** The venue's klines waiting for our 1m candle of their minute. */
  refs: Schema.optionalWith(RefsSchema, { default: () => ({}) }),
  /** Our last final 1m candles, for a kline that comes after they closed. */
  recent: Schema.optionalWith(RecentSchema, { default: () => [] })
})
export type MarketState = typeof MarketState.Type

export const OperatorState = Schema.Struct({
  markets: Schema.mutable(Schema.Record({ key: Schema.String, value: Schema.mutable(MarketState) }))
}).annotations({ identifier: "OperatorState" })
export type OperatorState = typeof OperatorState.Type

/** A checkpoint written before markets: the same state per symbol (the candle keys begin with the symbol). */
const LegacyState = Schema.Struct({
  symbols: Schema.Record({ key: Schema.String, value: Schema.mutable(MarketState) })
})

export const emptyState = (): OperatorState => ({ markets: {} })

export const newMarket = (): MarketState => ({
  maxEventTime: 0, // (not -Infinity: the state round-trips through JSON)
  seen: new Map(),
  trades: [],
  sweptAt: 0,
  open: {},
  indicators: {
    "1m": emptyIndicatorState,
    "5m": emptyIndicatorState,
    "15m": emptyIndicatorState,
    "1h": emptyIndicatorState,
    "1d": emptyIndicatorState
  },
  gaps: [],
  refs: {},
  recent: []
})

/**
 * A checkpoint's state. One written before markets (`symbols`) loads too: each symbol's state becomes its market in
 * `legacy` (market_legacy, written by migration 0004), else the sample market of the source with most entries in its
 * dedupe set (docs/markets.md).
 */
export const decodeState = (
  u: unknown,
  legacy: ReadonlyMap<string, Market> = new Map()
): Effect.Effect<OperatorState, ParseResult.ParseError> =>
  typeof u === "object" && u !== null && "symbols" in u && !("markets" in u)
    ? Effect.map(decodeLegacy(u), (old) => fromLegacy(old.symbols, legacy))
    : decodeCurrent(u)

const decodeCurrent = Schema.decodeUnknown(OperatorState)
const decodeLegacy = Schema.decodeUnknown(LegacyState)

/**
 * The state as checkpoint JSON, as `OperatorState`'s encoding gives it, written by hand: it runs at every checkpoint,
 * and apart from `seen` the state is JSON already (klines are classes of plain fields), where a Schema encode would
 * check every value (and a replacer function would be called for each of them).
 */
export const encodeState = (state: OperatorState): string => {
  const markets: Record<string, unknown> = {}
  for (const [market, s] of Object.entries(state.markets)) markets[market] = { ...s, seen: seenToJson(s.seen) }
  return JSON.stringify({ markets })
}
