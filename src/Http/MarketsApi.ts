import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { CandleCheck, CheckResult } from "../Domain/Completeness.js"
import { Gap } from "../Domain/Gap.js"
import { Asset, Market, Venue } from "../Domain/Market.js"
import { EpochMillis } from "../Domain/Tick.js"
import { withErrors } from "./Errors.js"
import { MarketParam } from "./Markets.js"
import { Limit, TimeParam } from "./Params.js"

/** live: an event in the last minute; stale: older; idle: none yet. */
export const MarketState = Schema.Literal("live", "stale", "idle").annotations({
  identifier: "MarketState",
  description: "live: an event in the last 60 s; stale: an older one; idle: none yet"
})
export type MarketState = typeof MarketState.Type

/** How recent a market's last event must be for it to be live. */
export const liveWindowMillis = 60_000

export const marketState = (lastEventTime: number | null, now: number): MarketState =>
  lastEventTime === null ? "idle" : now - lastEventTime <= liveWindowMillis ? "live" : "stale"

export const MarketInfo = Schema.Struct({
  market: Market,
  venue: Venue,
  base: Asset,
  quote: Asset,
  kind: Schema.Literal("trades", "sample").annotations({
    description:
      "trades: a venue's every trade (binance, coinbase, kraken); sample: sampled prices (coingecko, simulator)"
  }),
  state: MarketState,
  /** Event time of the newest tick or trade the processor has recorded, epoch ms. */
  lastEventTime: Schema.NullOr(EpochMillis),
  /** From the latest-price cache; null when it has none (expired, or the cache is down). */
  lastPrice: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "MarketInfo" })

export const MarketList = Schema.Struct({ markets: Schema.Array(MarketInfo) }).annotations({ identifier: "MarketList" })

export const GapList = Schema.Struct({ market: Market, gaps: Schema.Array(Gap) }).annotations({ identifier: "GapList" })

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** How many checks of each result the window holds (whatever `result` and `limit` say). */
export const CheckSummary = Schema.Struct({ match: Count, mismatch: Count, gap: Count, missing: Count }).annotations({
  identifier: "CheckSummary"
})

export const CheckList = Schema.Struct({
  market: Market,
  summary: CheckSummary,
  checks: Schema.Array(CandleCheck)
}).annotations({ identifier: "CheckList" })

/** The market a per-market endpoint is about, and the [from, to) window and `limit` its lists share. */
const marketPath = Schema.Struct({ market: MarketParam })
const windowParams = {
  from: Schema.optional(TimeParam),
  to: Schema.optional(TimeParam),
  limit: Schema.optionalWith(Limit, { default: () => 500 })
}

export class MarketsApi extends HttpApiGroup.make("markets")
  .add(
    HttpApiEndpoint.get("markets", "/api/markets")
      .addSuccess(MarketList)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "Every market the processor has recorded (the `markets` table), by market: its venue, pair, kind, state " +
          "(live: an event in the last 60 s, stale: older, idle: none) and last event time, with the last price from " +
          "the cache (null while the cache is down). 503 while the database is down."
      )
  )
  .add(
    HttpApiEndpoint.get("gaps", "/api/markets/:market/gaps")
      .setPath(marketPath)
      .setUrlParams(Schema.Struct(windowParams))
      .addSuccess(GapList)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "Ranges of a market's trade ids its source could not deliver, newest first: those whose time range " +
          "(fromTime..toTime) meets [from, to), at most `limit`. 400 when a parameter does not decode or `from` is not " +
          "before `to`."
      )
  )
  .add(
    HttpApiEndpoint.get("checks", "/api/markets/:market/checks")
      .setPath(marketPath)
      .setUrlParams(
        Schema.Struct({
          ...windowParams,
          result: Schema.optional(CheckResult).annotations({ description: "only the checks with this result" })
        })
      )
      .addSuccess(CheckList)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "A market's final 1m candles checked against the venue's own klines (docs/completeness.md), newest first: " +
          "those whose minute starts in [from, to), at most `limit`, only `result` ones when given. `summary` counts " +
          "each result over the same [from, to), whatever `result` and `limit` say. match: open, high, low, close " +
          "equal, volume within 1e-9 relative, first and last trade ids equal; mismatch: `mismatched` names the fields " +
          "that differ; gap: our candle is touched by an unfilled gap (not compared); missing: we have no candle for a " +
          "minute the venue traded in. A market with no checks answers an empty list. 400 when a parameter does not " +
          "decode or `from` is not before `to`."
      )
  )
  .annotate(OpenApi.Title, "Markets") {}
