import {
  HttpApi,
  HttpApiEndpoint,
  type HttpApiError,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"
import { Candle } from "../Domain/Candle.js"
import { DeadLetterReason } from "../Domain/DeadLetter.js"
import { IndicatorValuesSchema } from "../Domain/Indicators.js"
import { Interval } from "../Domain/Interval.js"
import { Market } from "../Domain/Market.js"
import { EpochMillis, Source, Tick, Ticker } from "../Domain/Tick.js"
import { Errors, withErrors } from "./Errors.js"
import { MarketListParam, MarketParam } from "./Markets.js"
import { MarketsApi } from "./MarketsApi.js"
import { Flag, IntParam, Limit, TimeParam } from "./Params.js"

export { BadRequest, Errors, NotFound, TooManyRequests, Unauthorized, Unavailable } from "./Errors.js"
export { Flag, Limit, TimeParam } from "./Params.js"

/** Admin endpoints: `Authorization: Bearer $ADMIN_API_KEY`; without a configured key they are off (404). */
export class AdminAuth extends HttpApiMiddleware.Tag<AdminAuth>()("AdminAuth", {
  failure: Schema.Union(Errors.unauthorized, Errors.notFound),
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// == responses

export const LatestPrices = Schema.Struct({
  prices: Schema.Array(Tick),
  asOf: EpochMillis
}).annotations({ identifier: "LatestPrices" })

export const CandleSeries = Schema.Struct({
  /** The base asset of `market`. */
  symbol: Ticker,
  market: Market,
  interval: Interval,
  candles: Schema.Array(Candle),
  /** With ?indicators=true: the indicator values as of each candle, index for index. */
  indicators: Schema.optional(Schema.Array(IndicatorValuesSchema))
}).annotations({ identifier: "CandleSeries" })

export const IndicatorsResponse = Schema.Struct({
  symbol: Ticker,
  market: Market,
  interval: Interval,
  bucketStart: Schema.NullOr(EpochMillis),
  values: IndicatorValuesSchema
}).annotations({ identifier: "Indicators" })

export const SymbolList = Schema.Struct({
  symbols: Schema.Array(Schema.Struct({ symbol: Ticker, source: Schema.NullOr(Source) }))
}).annotations({ identifier: "SymbolList" })

export const HealthStatus = Schema.Struct({ status: Schema.Literal("ok") })

const Dependency = Schema.Struct({
  kind: Schema.String,
  state: Schema.Literal("up", "down"),
  error: Schema.optional(Schema.String),
  // A venue connection's (`venue:<name>`, kind websocket): since its state changed, its markets, its last trade.
  since: Schema.optional(EpochMillis),
  markets: Schema.optional(Schema.Number),
  lastTradeAt: Schema.optional(EpochMillis)
})
const readinessFields = {
  status: Schema.Literal("ready", "degraded", "unavailable"),
  dependencies: Schema.Record({ key: Schema.String, value: Dependency }),
  // While this process loads a history before going live (the simulator's day, a CoinGecko backfill): how far, in ticks.
  history: Schema.optional(Schema.Struct({ published: Schema.Number, processed: Schema.Number, total: Schema.Number }))
}
/**
 * Ready: the database (the record) answers; degraded: something else (the cache, the bus, a venue connection:
 * `venue:<name>`, where this process runs venue sources) does not.
 */
export const Readiness = Schema.Struct(readinessFields).annotations({ identifier: "Readiness" })
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  readinessFields,
  HttpApiSchema.annotations({ status: 503 })
) {}

// == groups

export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthStatus))
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Readiness)
      .addError(NotReady)
      .annotate(
        OpenApi.Description,
        "Each dependency's state, and each venue connection's (`venue:binance`…) where this process runs venue sources. " +
          "200 while the database answers (status degraded if the cache, the bus or a venue connection is not up), 503 otherwise."
      )
  )
  .annotate(OpenApi.Title, "System") {}

/** /api/latest's query (HotRoutes.ts decodes it too, for the fast path). */
export const LatestParams = Schema.Struct({ symbols: Schema.optional(MarketListParam) })

/** /api/candles/:symbol's path and query (HotRoutes.ts decodes them too, for the fast path). */
export const CandlesPath = Schema.Struct({ symbol: MarketParam })
export const CandlesParams = Schema.Struct({
  interval: Schema.optionalWith(Interval, { default: () => "1m" as const }),
  from: Schema.optional(TimeParam),
  to: Schema.optional(TimeParam),
  limit: Schema.optionalWith(Limit, { default: () => 500 }),
  fill: Schema.optionalWith(Flag, { default: () => false }).annotations({
    description: "true: buckets without a candle carry the last close (volume 0, tickCount 0)"
  }),
  indicators: Schema.optionalWith(Flag, { default: () => false }).annotations({
    description: "true: add `indicators`, the SMA/EMA/RSI/Bollinger values as of each candle, aligned with `candles`"
  }),
  final: Schema.optionalWith(Flag, { default: () => false }).annotations({
    description: "true: only candles that can no longer change (status final or gap), none provisional"
  })
})

export class PricesApi extends HttpApiGroup.make("prices")
  .add(
    HttpApiEndpoint.get("latest", "/api/latest")
      .setUrlParams(LatestParams)
      .addSuccess(LatestPrices)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "Latest tick of every market (each with its `market`), from the cache (Redis), by market. `symbols`: only " +
          "these markets, and every market of each bare symbol. 503 with Retry-After while the cache is down."
      )
  )
  .add(
    HttpApiEndpoint.get("latestOne", "/api/latest/:symbol")
      .setPath(Schema.Struct({ symbol: MarketParam }))
      .addSuccess(Tick)
      .addError(Errors.notFound)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "The latest tick of a market (a bare symbol: its default market), with its `market`."
      )
  )
  .add(HttpApiEndpoint.get("symbols", "/api/symbols").addSuccess(SymbolList).pipe(withErrors))
  .annotate(OpenApi.Title, "Prices") {}

export class HistoryApi extends HttpApiGroup.make("history")
  .add(
    HttpApiEndpoint.get("candles", "/api/candles/:symbol")
      .setPath(CandlesPath)
      .setUrlParams(CandlesParams)
      .addSuccess(CandleSeries)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "A market's candles (a bare symbol: its default market) from Postgres, oldest first: the newest `limit` buckets in [from, to). " +
          "`fill=true` fills empty buckets with the last close carried forward (volume 0, tickCount 0), from `from` " +
          "(else the oldest candle) to the last bucket before `to` but never past now (else the newest candle); a filled " +
          "bucket repeats the indicator values of the last real candle. `indicators=true` adds an `indicators` array " +
          "aligned with `candles`: the values stored with each candle (provisional for the open one). " +
          "Each candle says its `status`: provisional while its bucket can still change (the market's watermark, its " +
          "newest event time less the allowed lateness, has not passed the bucket's end), final once it cannot, gap " +
          "when final and touched by an unfilled gap (`gaps` lists their trade ids); `firstTradeId`/`lastTradeId` are " +
          "its trades' raw ids (null for sampled prices). A final or gap candle's values never change again (a gap " +
          "found later can only turn final into gap). `final=true` returns only those (with `fill`, up to the newest). " +
          "400 when a parameter does not decode or `from` is not before `to`."
      )
  )
  .add(
    HttpApiEndpoint.get("indicators", "/api/indicators/:symbol")
      .setPath(Schema.Struct({ symbol: MarketParam }))
      .setUrlParams(Schema.Struct({ interval: Schema.optionalWith(Interval, { default: () => "1m" as const }) }))
      .addSuccess(IndicatorsResponse)
      .addError(Errors.notFound)
      .pipe(withErrors)
  )
  .annotate(OpenApi.Title, "History") {}

export const CheckpointList = Schema.Struct({
  checkpoints: Schema.Array(
    Schema.Struct({
      topic: Schema.String,
      partition: Schema.Number,
      nextOffset: Schema.Number,
      epoch: Schema.Number,
      owner: Schema.String,
      updatedAt: EpochMillis
    })
  )
}).annotations({ identifier: "CheckpointList" })

export const DeadLetterList = Schema.Struct({
  deadLetters: Schema.Array(
    Schema.Struct({
      topic: Schema.String,
      partition: Schema.Number,
      offset: Schema.Number,
      reason: Schema.String,
      recordedAt: EpochMillis,
      /** As published to `<topic>.dlq`: reason, detail, topic, partition, offset, and `value` (or `valueBase64`). */
      letter: Schema.Unknown
    })
  )
}).annotations({ identifier: "DeadLetterList" })

export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("checkpoints", "/api/admin/checkpoints")
      .addSuccess(CheckpointList)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "The processor's checkpoint per partition: next offset, fencing epoch, owner, time."
      )
  )
  .add(
    HttpApiEndpoint.get("deadLetters", "/api/admin/dlq")
      .setUrlParams(
        Schema.Struct({
          // A letter can be up to 512 KiB (a big bad record, base64): a small page.
          limit: Schema.optionalWith(IntParam(1, 500), { default: () => 50 }),
          reason: Schema.optional(DeadLetterReason)
        })
      )
      .addSuccess(DeadLetterList)
      .pipe(withErrors)
      .annotate(
        OpenApi.Description,
        "Records the processor could not use, newest first, as recorded in Postgres with the checkpoint that moved past " +
          "them (each once; the `<topic>.dlq` topic has them at least once): why, where, and the original bytes."
      )
  )
  .middleware(AdminAuth)
  .annotate(OpenApi.Title, "Admin") {}

/**
 * HttpApi.make declares the platform's HttpApiDecodeError (400, `{ _tag, issues, message }`) on every endpoint, and
 * Effect 3 cannot replace it (Effect-TS/effect#5465). This server never sends that body: `decodeErrors` (Errors.ts)
 * answers our 400 `{ error, details }`, which `withErrors` declares where an endpoint takes parameters. So the API
 * starts without it.
 */
const withoutDecodeError = <Id extends string>(api: HttpApi.HttpApi<Id, never, HttpApiError.HttpApiDecodeError>) =>
  Object.assign(api, { errorSchema: Schema.Never }) as unknown as HttpApi.HttpApi<Id>

const retryAfter = {
  "Retry-After": {
    description: "Seconds to wait before trying again",
    schema: { type: "integer", minimum: 1 }
  }
}

/** Every 429 and 503 carries Retry-After (Limits.ts, Server.ts); Effect's document has no response headers. */
const documentRetryAfter = (spec: Record<string, unknown>) => {
  const paths = spec["paths"] as Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>
  for (const operations of Object.values(paths)) {
    for (const op of Object.values(operations)) {
      for (const status of ["429", "503"]) {
        const response = op.responses[status]
        if (response !== undefined) response["headers"] = retryAfter
      }
    }
  }
  return spec
}

export class Api extends withoutDecodeError(HttpApi.make("crypto-pipeline"))
  .add(SystemApi)
  .add(PricesApi)
  .add(HistoryApi)
  .add(MarketsApi)
  .add(AdminApi)
  .annotate(OpenApi.Title, "Crypto price pipeline")
  .annotate(
    OpenApi.Description,
    "Every error is JSON `{ error, details? }` with its status; 429 and 503 carry Retry-After. Every path here " +
      "answers GET (and HEAD and OPTIONS); any other method gets 405 with `Allow: GET, HEAD, OPTIONS`. A path that " +
      "is not here is a 404."
  )
  .annotate(OpenApi.Transform, documentRetryAfter) {}
