import { Headers, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import {
  Chunk,
  Clock,
  Data,
  Duration,
  Effect,
  Either,
  Metric,
  Option,
  ParseResult,
  Random,
  Redacted,
  Schema,
  Stream
} from "effect"
import type { CoinGeckoPlan, SourceConfig } from "../Config.js"
import { Tick } from "../Domain/Tick.js"
import { coinInfo } from "./Coins.js"
import { SourceError } from "./Source.js"

// == options

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

export interface Options extends ClientOptions {
  /** CoinGecko ids, all asked for in one /simple/price call. */
  readonly coins: ReadonlyArray<string>
  readonly pollInterval: Duration.DurationInput
  /** After a failure: base × 2^(n-1), capped at max, then jittered to 80–120 %. Default 1 second and 5 minutes. */
  readonly backoff?: { readonly base: Duration.DurationInput; readonly max: Duration.DurationInput }
  /** Calls per month the start-up log compares against on the demo plan. Default 10,000. */
  readonly monthlyBudget?: number
}

export const defaultUserAgent = "crypto-price-pipeline/0.1.0 (Effect; +node)"
const defaultTimeout = Duration.seconds(10)
const defaultBackoff = { base: Duration.seconds(1), max: Duration.minutes(5) }
/** The longest Retry-After we honour as given; a larger one is a broken header, not a plan. */
const maxRetryAfter = Duration.hours(1)

export const optionsFromConfig = (config: SourceConfig): Options => ({
  baseUrl: config.coingecko.baseUrl,
  plan: config.coingecko.plan,
  apiKey: config.coingecko.apiKey,
  timeout: config.coingecko.timeout,
  coins: config.coins,
  pollInterval: config.pollInterval,
  monthlyBudget: config.coingecko.monthlyBudget
})

// == errors

/** What a request is counted and reported as; `coins/market_chart` stands for `/coins/{id}/market_chart`. */
export type Endpoint = "simple/price" | "coins/markets" | "ping" | "coins/market_chart"

/** One failed request, with what retrying needs to know. `toSourceError` is what the stream fails with. */
export class CoinGeckoError extends Data.TaggedError("CoinGeckoError")<{
  readonly reason: "unavailable" | "rate-limited" | "bad-response" | "timeout" | "unauthorized" | "rejected"
  readonly endpoint: Endpoint
  readonly message: string
  readonly status?: number
  /** From the Retry-After header (seconds or an HTTP date). */
  readonly retryAfter?: Duration.Duration
  /** The start of a body that was not what we asked for (e.g. a CDN's HTML page). */
  readonly excerpt?: string
}> {
  /** Unauthorized and other 4xx answers will not change by asking again. */
  get retryable(): boolean {
    return this.reason !== "unauthorized" && this.reason !== "rejected"
  }

  toSourceError(): SourceError {
    return new SourceError({ source: "coingecko", reason: this.reason, message: this.message, cause: this })
  }
}

// == metrics

export const metrics = {
  requests: Metric.counter("coingecko_requests_total", {
    description: "HTTP requests sent to CoinGecko (tag endpoint)",
    incremental: true
  }),
  errors: Metric.counter("coingecko_errors_total", {
    description:
      "Failed CoinGecko requests by kind (unavailable, rate-limited, bad-response, timeout, unauthorized, rejected), " +
      "and coins left out of an answer (missing-coin, bad-quote)",
    incremental: true
  }),
  rateLimited: Metric.counter("coingecko_rate_limited_total", {
    description: "CoinGecko answers with HTTP 429",
    incremental: true
  }),
  unchanged: Metric.counter("coingecko_unchanged_total", {
    description: "Coin quotes not published because last_updated_at did not advance (CoinGecko's cache)",
    incremental: true
  }),
  ticks: Metric.counter("coingecko_ticks_total", {
    description: "Ticks emitted by the CoinGecko source",
    incremental: true
  }),
  lastSuccess: Metric.gauge("coingecko_last_success_timestamp_seconds", {
    description: "When CoinGecko last gave a good answer (Unix seconds)"
  })
}

export const requestsCounter = (endpoint: Endpoint) => Metric.tagged(metrics.requests, "endpoint", endpoint)
export const errorsCounter = (kind: string) => Metric.tagged(metrics.errors, "kind", kind)

// == answers

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

/** The part of a /coins/markets row we use; the other fields are ignored. */
export const MarketCoin = Schema.Struct({
  id: Schema.String,
  symbol: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String))
})
export type MarketCoin = typeof MarketCoin.Type

const shorten = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

const decodeQuote = Schema.decodeUnknownEither(SimplePriceQuote)
const decodeMarketCoin = Schema.decodeUnknownEither(MarketCoin)
const decodeTick = Schema.decodeUnknownEither(Tick)
const formatParseError = (e: ParseResult.ParseError) =>
  shorten(
    ParseResult.ArrayFormatter.formatErrorSync(e)
      .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
      .join("; "),
    200
  )

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

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const finite = (n: number | null | undefined): n is number => typeof n === "number" && Number.isFinite(n)
const nonNegative = (n: number | null | undefined): n is number => finite(n) && n >= 0

/**
 * Reads a /simple/price body. Pure and total: any JSON value gives either a Snapshot or, when the body is not
 * an object keyed by coin id, a description of what it was. Coins are never invented: one missing or without a
 * usable price or time is reported in `problems`. Optional numbers that are null, not finite or (for cap and
 * volume) negative are left out of the tick.
 */
export const readSnapshot = (body: unknown, input: SnapshotInput): Either.Either<Snapshot, string> => {
  if (!isRecord(body)) {
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
    if (!isRecord(entry)) {
      problems.set(coinId, `expected an object, got ${shorten(JSON.stringify(entry) ?? String(entry), 60)}`)
      continue
    }
    const quote = decodeQuote(entry)
    if (Either.isLeft(quote)) {
      problems.set(coinId, `undecodable quote: ${formatParseError(quote.left)}`)
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
    const tick = decodeTick({
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
        `not a valid tick (usd ${q.usd}, last_updated_at ${q.last_updated_at}): ${formatParseError(tick.left)}`
      )
      continue
    }
    ticks.push(tick.right)
  }
  return Either.right({ ticks, unchanged, problems })
}

/** A ticker symbol as the Tick schema wants it (BTC); None when nothing usable is left. */
export const toSymbol = (raw: string): Option.Option<string> => {
  const s = raw
    .replace(/[^a-z0-9]/gi, "")
    .toUpperCase()
    .slice(0, 15)
  return s.length > 0 ? Option.some(s) : Option.none()
}

// == HTTP details

/** Retry-After as seconds or an HTTP date (relative to `now`, epoch ms); None when absent or unreadable. */
export const parseRetryAfter = (value: string | undefined, now: number): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const v = value.trim()
  if (/^\d+(\.\d+)?$/.test(v))
    return Option.some(Duration.min(Duration.millis(Math.round(Number(v) * 1000)), maxRetryAfter))
  if (!/[a-z]/i.test(v)) return Option.none()
  const at = Date.parse(v)
  return Number.isNaN(at)
    ? Option.none()
    : Option.some(Duration.min(Duration.millis(Math.max(0, at - now)), maxRetryAfter))
}

/** Exponential backoff: base × 2^(attempt-1), capped at max, then scaled by 0.8 + 0.4 × unit (unit in [0, 1)). */
export const backoffDelay = (
  attempt: number,
  backoff: { readonly base: Duration.DurationInput; readonly max: Duration.DurationInput },
  unit: number
): Duration.Duration => {
  const raw = Duration.toMillis(backoff.base) * 2 ** Math.max(0, Math.min(attempt - 1, 40))
  const capped = Math.min(raw, Duration.toMillis(backoff.max))
  return Duration.millis(Math.round(capped * (0.8 + 0.4 * unit)))
}

/** How long to wait after `error`, the `attempt`-th failure in a row: never less than its Retry-After. */
export const retryDelay = (
  error: CoinGeckoError,
  attempt: number,
  backoff: { readonly base: Duration.DurationInput; readonly max: Duration.DurationInput },
  unit: number
): Duration.Duration => {
  const delay = backoffDelay(attempt, backoff, unit)
  return error.retryAfter === undefined ? delay : Duration.max(error.retryAfter, delay)
}

/** The start of a body, readable in a log line: an HTML page becomes its title and text. */
export const excerpt = (body: string, max = 160): string => {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1]?.replace(/\s+/g, " ").trim()
  const text = body
    .replace(/<head[\s\S]*?<\/head>|<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/\s+/g, " ")
    .trim()
  return shorten(
    title !== undefined && title.length > 0 ? (text.startsWith(title) ? text : `${title} | ${text}`) : text,
    max
  )
}

const parseJson = (text: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch {
    return Either.left(undefined)
  }
}

/** CoinGecko's error codes for a key that is missing, restricted or for the other root. */
const keyErrorCodes = new Set([10002, 10005, 10010, 10011])

const errorCode = (json: unknown): number | undefined => {
  if (!isRecord(json)) return undefined
  const status = json["status"]
  const code = isRecord(status) ? status["error_code"] : json["error_code"]
  return typeof code === "number" ? code : undefined
}

/** What an error body says: CoinGecko's own message when it is JSON, else a short excerpt. */
const describeBody = (body: string): string => {
  const json = parseJson(body)
  if (Either.isRight(json) && isRecord(json.right)) {
    const status = json.right["status"]
    const message = isRecord(status) ? status["error_message"] : json.right["error"]
    if (typeof message === "string") return shorten(message, 200)
  }
  return excerpt(body)
}

/** An answer's status and body → its JSON, or a typed error saying what kind of trouble it is. */
export const interpret = (
  endpoint: Endpoint,
  response: {
    readonly status: number
    readonly headers: Readonly<Record<string, string | undefined>>
    readonly body: string
  },
  now: number
): Either.Either<unknown, CoinGeckoError> => {
  const { body, headers, status } = response
  const fail = (
    reason: CoinGeckoError["reason"],
    what: string,
    extra: { retryAfter?: Duration.Duration; excerpt?: string } = {}
  ) => Either.left(new CoinGeckoError({ reason, endpoint, status, message: `/${endpoint}: ${what}`, ...extra }))
  if (status >= 200 && status < 300) {
    const json = parseJson(body)
    if (Either.isRight(json)) return Either.right(json.right)
    const text = excerpt(body)
    return fail(
      "bad-response",
      `HTTP ${status} but the body is not JSON (${headers["content-type"] ?? "no content-type"}): "${text}"`,
      { excerpt: text }
    )
  }
  const detail = describeBody(body)
  const isJson = Either.isRight(parseJson(body))
  const extra = isJson ? {} : { excerpt: detail }
  if (status === 429) {
    const retryAfter = parseRetryAfter(headers["retry-after"], now)
    return fail(
      "rate-limited",
      `HTTP 429 rate limited${Option.match(retryAfter, { onNone: () => " (no Retry-After)", onSome: (d) => ` (Retry-After ${Duration.format(d)})` })}: "${detail}"`,
      Option.match(retryAfter, { onNone: () => extra, onSome: (d) => ({ ...extra, retryAfter: d }) })
    )
  }
  if (status === 408) return fail("timeout", `HTTP 408: "${detail}"`, extra)
  if (status >= 500) return fail("unavailable", `HTTP ${status}: "${detail}"`, extra)
  if (
    status === 401 ||
    (status === 403 && keyErrorCodes.has(errorCode(parseJson(body).pipe(Either.getOrUndefined)) ?? -1))
  ) {
    return fail(
      "unauthorized",
      `HTTP ${status}, the API key was refused (check COINGECKO_API_KEY and COINGECKO_PLAN): "${detail}"`,
      extra
    )
  }
  // A 403 that is not about the key is the CDN's firewall (Cloudflare 1020): it may lift, so it is retried.
  if (status === 403) return fail("unavailable", `HTTP 403, blocked: "${detail}"`, extra)
  if (status >= 400) return fail("rejected", `HTTP ${status}: "${detail}"`, extra)
  return fail("bad-response", `unexpected HTTP ${status}: "${detail}"`, extra)
}

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

// == client

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

const count = (error: CoinGeckoError) =>
  Effect.zipRight(
    Metric.increment(errorsCounter(error.reason)),
    error.reason === "rate-limited" ? Metric.increment(metrics.rateLimited) : Effect.void
  )

export const makeClient = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (http) => {
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": options.userAgent ?? defaultUserAgent,
      ...Option.match(options.apiKey, {
        onNone: () => ({}),
        onSome: (key) => ({ [options.plan === "pro" ? "x-cg-pro-api-key" : "x-cg-demo-api-key"]: Redacted.value(key) })
      })
    }

    const get = (
      endpoint: Endpoint,
      params: Record<string, string>,
      path: string = endpoint
    ): Effect.Effect<unknown, CoinGeckoError> => {
      const request = HttpClientRequest.get(`${options.baseUrl}/${path}`).pipe(
        HttpClientRequest.setUrlParams(params),
        HttpClientRequest.setHeaders(headers)
      )
      return Effect.gen(function* () {
        yield* Metric.increment(requestsCounter(endpoint))
        const response = yield* http.execute(request)
        const body = yield* response.text
        const now = yield* Clock.currentTimeMillis
        const json = yield* interpret(endpoint, { status: response.status, headers: response.headers, body }, now)
        yield* Metric.set(metrics.lastSuccess, now / 1000)
        return json
      }).pipe(
        Effect.catchTags({
          RequestError: (e) =>
            Effect.fail(
              new CoinGeckoError({
                reason: "unavailable",
                endpoint,
                message: `/${endpoint}: ${e.reason.toLowerCase()} error: ${describeCause(e.cause)}`
              })
            ),
          ResponseError: (e) =>
            Effect.fail(
              new CoinGeckoError({
                reason: "unavailable",
                endpoint,
                status: e.response.status,
                message: `/${endpoint}: reading the answer failed: ${describeCause(e.cause)}`
              })
            )
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
        Effect.tapError(count),
        // The key travels in a header: keep it out of spans and any header dump.
        Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...keyHeaders])
      )
    }

    const decodeMarkets = (json: unknown): Effect.Effect<ReadonlyArray<MarketCoin>, CoinGeckoError> => {
      if (!Array.isArray(json)) {
        const error = new CoinGeckoError({
          reason: "bad-response",
          endpoint: "coins/markets",
          message: "/coins/markets: expected an array of coins"
        })
        return Effect.zipRight(count(error), Effect.fail(error))
      }
      return Effect.succeed(
        json.flatMap((row) => Either.match(decodeMarketCoin(row), { onLeft: () => [], onRight: (c) => [c] }))
      )
    }

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
          Effect.forEach(chunksOf(ids, 250), (chunk) =>
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

const chunksOf = <A>(as: ReadonlyArray<A>, n: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(as.length / n) }, (_, i) => as.slice(i * n, i * n + n))

// == start-up

const monthMillis = 30 * 24 * 3600 * 1000

/** Calls per 30-day month one call every `interval` makes: 30 seconds → 86,400. */
export const monthlyCalls = (interval: Duration.DurationInput): number =>
  Math.ceil(monthMillis / Duration.toMillis(interval))

const thousands = (n: number) => n.toLocaleString("en-US")

const logCallVolume = (options: Options) =>
  Effect.gen(function* () {
    const calls = monthlyCalls(options.pollInterval)
    const budget = options.monthlyBudget ?? 10_000
    const keyed = Option.isSome(options.apiKey)
    const line =
      `coingecko: one /simple/price call every ${Duration.format(options.pollInterval)} for ${options.coins.length} ${options.coins.length === 1 ? "coin" : "coins"} ` +
      `= ${thousands(calls)} calls/month (30 days), ${options.plan} plan${keyed ? "" : ", keyless"}, ${options.baseUrl}`
    if (options.plan === "demo" && calls > budget) {
      const days = (30 * budget) / calls
      const slowest = Duration.seconds(Math.ceil(monthMillis / 1000 / budget))
      yield* Effect.logWarning(
        `${line}: more than the demo plan's ${thousands(budget)} calls/month budget, which it would use up in about ` +
          `${days.toFixed(1)} days${keyed ? "" : " once a demo key is set (keyless calls share a per-IP rate limit instead)"}; ` +
          `POLL_INTERVAL=${Duration.format(slowest)} or slower stays within it (COINGECKO_MONTHLY_BUDGET sets the budget)`
      )
    } else {
      yield* Effect.logInfo(line)
    }
    if (Duration.toMillis(options.pollInterval) < 60_000) {
      yield* Effect.logInfo(
        "coingecko: /simple/price answers are cached (60 s on the public API, 20 s on pro): a quote whose last_updated_at did not advance is not published again"
      )
    }
  })

/** id → ticker symbol, from /coins/markets once, else the built-in table (src/Sources/Coins.ts). */
export const resolveSymbols = (client: Client, coins: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const symbols = new Map<string, string>()
    const listed = yield* Effect.either(client.markets(coins))
    if (Either.isLeft(listed)) {
      yield* Effect.logWarning(`coingecko: symbols not fetched (${listed.left.message}); using the built-in table`)
    } else {
      for (const row of listed.right) {
        if (!coins.includes(row.id)) continue
        Option.map(toSymbol(row.symbol), (s) => symbols.set(row.id, s))
      }
      const unlisted = coins.filter((id) => !symbols.has(id))
      if (unlisted.length > 0) {
        yield* Effect.logWarning(
          `coingecko: /coins/markets does not list ${unlisted.join(", ")}; using the built-in symbols for them`
        )
      }
    }
    for (const id of coins) if (!symbols.has(id)) symbols.set(id, coinInfo(id).symbol)
    const byId = new Map<string, Array<string>>()
    for (const [id, s] of symbols) byId.set(s, [...(byId.get(s) ?? []), id])
    for (const [s, ids] of byId) {
      if (ids.length > 1)
        yield* Effect.logWarning(
          `coingecko: ${ids.join(" and ")} share the symbol ${s}: their ticks share one key and one set of candles`
        )
    }
    yield* Effect.logInfo(`coingecko: symbols ${[...symbols].map(([id, s]) => `${id}=${s}`).join(", ")}`)
    return symbols
  })

// == the stream

/**
 * Polls /simple/price every `pollInterval` and emits one tick per coin whose last_updated_at advanced
 * (event time = last_updated_at × 1000, ingest time = now, source "coingecko").
 * A failed poll is logged, counted and retried: after Retry-After when a 429 has one, else with exponential backoff
 * and jitter; the regular interval resumes after the next good answer. The stream fails only when retrying cannot help
 * (reasons "unauthorized" and "rejected").
 */
export const streamWith = (options: Options): Stream.Stream<Tick, SourceError, HttpClient.HttpClient> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const client = yield* makeClient(options)
      yield* logCallVolume(options)
      if (options.plan === "pro" && Option.isNone(options.apiKey)) {
        yield* Effect.logWarning(
          "coingecko: COINGECKO_PLAN=pro without COINGECKO_API_KEY: the pro root refuses keyless calls"
        )
      }
      const symbols = yield* resolveSymbols(client, options.coins)
      const symbolOf = (id: string) => symbols.get(id) ?? coinInfo(id).symbol
      const backoff = options.backoff ?? defaultBackoff
      const pollInterval = Duration.decode(options.pollInterval)
      const lastPublished = new Map<string, number>()
      const problems = new Map<string, string>()
      let delay = Duration.zero
      let failures = 0

      const report = (current: ReadonlyMap<string, string>) =>
        Effect.gen(function* () {
          for (const problem of current.values()) {
            yield* Metric.increment(errorsCounter(problem === "missing from the answer" ? "missing-coin" : "bad-quote"))
          }
          const fresh = [...current].filter(([id, p]) => problems.get(id) !== p)
          const resolved = [...problems.keys()].filter((id) => !current.has(id))
          if (fresh.length > 0) {
            yield* Effect.logWarning(
              `coingecko: ${current.size} of ${options.coins.length} coins not published from this answer (none invented): ` +
                fresh.map(([id, p]) => `${id}: ${p}`).join("; ")
            )
          } else if (current.size > 0) {
            yield* Effect.logDebug(`coingecko: still left out: ${[...current.keys()].join(", ")}`)
          }
          if (resolved.length > 0) yield* Effect.logInfo(`coingecko: back in the answer: ${resolved.join(", ")}`)
          problems.clear()
          for (const [id, p] of current) problems.set(id, p)
        })

      const poll = Effect.gen(function* () {
        const body = yield* client.simplePrice(options.coins)
        const now = yield* Clock.currentTimeMillis
        return yield* Either.match(readSnapshot(body, { coins: options.coins, symbolOf, now, lastPublished }), {
          onRight: Effect.succeed,
          onLeft: (what) => {
            const error = new CoinGeckoError({
              reason: "bad-response",
              endpoint: "simple/price",
              message: `/simple/price: ${what}`
            })
            return Effect.zipRight(count(error), Effect.fail(error))
          }
        })
      })

      const step: Effect.Effect<Chunk.Chunk<Tick>, SourceError> = Effect.gen(function* () {
        if (Duration.toMillis(delay) > 0) yield* Effect.sleep(delay)
        const result = yield* Effect.either(poll)
        if (Either.isRight(result)) {
          const snapshot = result.right
          if (failures > 0)
            yield* Effect.logInfo(
              `coingecko: answering again after ${failures} failed ${failures === 1 ? "call" : "calls"}`
            )
          failures = 0
          delay = pollInterval
          for (const tick of snapshot.ticks) lastPublished.set(tick.coinId, tick.eventTime)
          yield* report(snapshot.problems)
          if (snapshot.unchanged.length > 0) {
            yield* Metric.incrementBy(metrics.unchanged, snapshot.unchanged.length)
            yield* Effect.logDebug(`coingecko: unchanged since the last answer: ${snapshot.unchanged.join(", ")}`)
          }
          yield* Metric.incrementBy(metrics.ticks, snapshot.ticks.length)
          return Chunk.fromIterable(snapshot.ticks)
        }
        const error = result.left
        if (!error.retryable) {
          yield* Effect.logError(`coingecko: ${error.message}; giving up (retrying cannot help)`)
          return yield* Effect.fail(error.toSourceError())
        }
        failures += 1
        delay = retryDelay(error, failures, backoff, yield* Random.next)
        yield* Effect.logWarning(
          `coingecko: ${error.message}; retrying in ${Duration.format(delay)} (failure ${failures} in a row)`
        )
        return Chunk.empty<Tick>()
      })

      return Stream.repeatEffectChunk(step)
    })
  )

/** The CoinGecko source on its own HTTP client (undici, scoped to the stream): no requirements. */
export const stream = (options: Options): Stream.Stream<Tick, SourceError> =>
  streamWith(options).pipe(Stream.provideLayer(NodeHttpClient.layerUndici))

/**
 * One /ping with a short timeout, for SOURCE=auto. Succeeds when CoinGecko answers (a 429 counts: it is there,
 * only busy); fails with what went wrong otherwise.
 */
export const probe = (options: ClientOptions): Effect.Effect<void, CoinGeckoError> =>
  Effect.flatMap(makeClient(options), (client) => client.ping).pipe(
    Effect.catchIf(
      (e) => e.reason === "rate-limited",
      () => Effect.void
    ),
    Effect.provide(NodeHttpClient.layerUndici)
  )
