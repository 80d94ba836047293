import { Headers, HttpClient, HttpClientRequest } from "@effect/platform"
import { Array as Arr, Clock, Duration, Effect, Either, Metric, Option, Redacted, Schema } from "effect"
import type { CoinGeckoPlan } from "../../Config.js"
import { CoinGeckoError, countError, type Endpoint, failCounted } from "./Errors.js"
import { metrics, requestsCounter } from "./Metrics.js"
import { interpret } from "./Response.js"

export interface ClientOptions {
  /** API root without a trailing slash, e.g. https://api.coingecko.com/api/v3. */
  readonly baseUrl: string
  readonly plan: CoinGeckoPlan
  /** Sent as x-cg-demo-api-key or x-cg-pro-api-key; never logged. None: keyless. */
  readonly apiKey: Option.Option<Redacted.Redacted>
  /** Per request, body included. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput
  readonly userAgent?: string
}

export const defaultUserAgent = "crypto-price-pipeline/0.1.0 (Effect; +node)"
const defaultTimeout = Duration.seconds(10)

/** The part of a /coins/markets row we use; the other fields are ignored. */
export const MarketCoin = Schema.Struct({
  id: Schema.String,
  symbol: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String))
})
export type MarketCoin = typeof MarketCoin.Type

const decodeMarketCoin = Schema.decodeUnknownEither(MarketCoin)

export interface Client {
  /** /simple/price for `ids` in usd with market cap, 24 h volume and change, last_updated_at, full precision: the raw JSON. */
  readonly simplePrice: (ids: ReadonlyArray<string>) => Effect.Effect<unknown, CoinGeckoError>
  /** /coins/markets rows for `ids` (250 per call); rows that do not decode are left out. */
  readonly markets: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<MarketCoin>, CoinGeckoError>
  /** /ping. */
  readonly ping: Effect.Effect<void, CoinGeckoError>
  /**
   * /coins/{id}/market_chart in usd for the past `days` days, the raw JSON (`{prices, market_caps, total_volumes}`).
   * CoinGecko picks the spacing: 5-minutely for 1 day, hourly for 2–90 days, daily beyond.
   */
  readonly marketChart: (id: string, days: number) => Effect.Effect<unknown, CoinGeckoError>
}

const keyHeaders = ["x-cg-demo-api-key", "x-cg-pro-api-key"]

const describeCause = (cause: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let i = 0; i < 4 && current !== undefined && current !== null; i++) {
    if (typeof current === "object") {
      const e = current as { code?: unknown; message?: unknown; cause?: unknown }
      const message = typeof e.message === "string" ? e.message : ""
      const code = typeof e.code === "string" && !message.includes(e.code) ? e.code : ""
      const text = [code, message].filter((s) => s.length > 0).join(" ")
      if (text.length > 0 && !parts.includes(text)) parts.push(text)
      current = e.cause
    } else {
      parts.push(String(current))
      break
    }
  }
  return parts.length > 0 ? parts.join(": ") : "unknown transport error"
}

const transportError = (endpoint: Endpoint, what: string, cause: unknown, status?: number) =>
  new CoinGeckoError({
    reason: "unavailable",
    endpoint,
    ...(status === undefined ? {} : { status }),
    message: `/${endpoint}: ${what}: ${describeCause(cause)}`
  })

const decodeMarkets = (json: unknown): Effect.Effect<ReadonlyArray<MarketCoin>, CoinGeckoError> =>
  Array.isArray(json)
    ? Effect.succeed(
        json.flatMap((row) => Either.match(decodeMarketCoin(row), { onLeft: () => [], onRight: (c) => [c] }))
      )
    : failCounted(
        new CoinGeckoError({
          reason: "bad-response",
          endpoint: "coins/markets",
          message: "/coins/markets: expected an array of coins"
        })
      )

const headersFor = (options: ClientOptions): Record<string, string> => ({
  accept: "application/json",
  "user-agent": options.userAgent ?? defaultUserAgent,
  ...Option.match(options.apiKey, {
    onNone: () => ({}),
    onSome: (key) => ({ [options.plan === "pro" ? "x-cg-pro-api-key" : "x-cg-demo-api-key"]: Redacted.value(key) })
  })
})

export const makeClient = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (http) => {
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const headers = headersFor(options)

    /** One GET: counted, timed out, its answer interpreted; the key kept out of spans and header dumps. */
    const get = Effect.fn("CoinGecko.request")(
      function* (endpoint: Endpoint, params: Record<string, string>, path: string = endpoint) {
        const request = HttpClientRequest.get(`${options.baseUrl}/${path}`).pipe(
          HttpClientRequest.setUrlParams(params),
          HttpClientRequest.setHeaders(headers)
        )
        yield* Metric.increment(requestsCounter(endpoint))
        const response = yield* http.execute(request)
        const body = yield* response.text
        const now = yield* Clock.currentTimeMillis
        const json = yield* interpret(endpoint, { status: response.status, headers: response.headers, body }, now)
        yield* Metric.set(metrics.lastSuccess, now / 1000)
        return json
      },
      (effect, endpoint) =>
        effect.pipe(
          Effect.catchTags({
            RequestError: (e) => Effect.fail(transportError(endpoint, `${e.reason.toLowerCase()} error`, e.cause)),
            ResponseError: (e) =>
              Effect.fail(transportError(endpoint, "reading the answer failed", e.cause, e.response.status))
          }),
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new CoinGeckoError({
                reason: "timeout",
                endpoint,
                message: `/${endpoint}: no complete answer within ${Duration.format(timeout)}`
              })
          }),
          Effect.tapError(countError),
          Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...keyHeaders])
        )
    )

    return {
      simplePrice: (ids) =>
        get("simple/price", {
          ids: ids.join(","),
          vs_currencies: "usd",
          include_market_cap: "true",
          include_24hr_vol: "true",
          include_24hr_change: "true",
          include_last_updated_at: "true",
          precision: "full"
        }),
      markets: (ids) =>
        Effect.map(
          Effect.forEach(Arr.chunksOf(ids, 250), (chunk) =>
            get("coins/markets", { vs_currency: "usd", ids: chunk.join(","), per_page: "250", page: "1" }).pipe(
              Effect.flatMap(decodeMarkets)
            )
          ),
          (pages) => pages.flat()
        ),
      ping: Effect.asVoid(get("ping", {})),
      marketChart: (id, days) =>
        get(
          "coins/market_chart",
          { vs_currency: "usd", days: String(days) },
          `coins/${encodeURIComponent(id)}/market_chart`
        )
    }
  })
