import { Duration, Either, Option, Predicate } from "effect"
import { shorten } from "../../Text.js"
import { CoinGeckoError, type Endpoint } from "./Errors.js"

/** What an HTTP answer from CoinGecko means: its JSON, or a typed error that says what kind of trouble it is. */

/** The longest Retry-After we honour as given; a larger one is a broken header, not a plan. */
const maxRetryAfter = Duration.hours(1)

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

const parseJson = (text: string): Either.Either<unknown, unknown> => Either.try(() => JSON.parse(text) as unknown)

/** CoinGecko's error codes for a key that is missing, restricted or for the other root. */
const keyErrorCodes = new Set([10002, 10005, 10010, 10011])

const errorCode = (json: unknown): number | undefined => {
  if (!Predicate.isRecord(json)) return undefined
  const status = json["status"]
  const code = Predicate.isRecord(status) ? status["error_code"] : json["error_code"]
  return typeof code === "number" ? code : undefined
}

/** What an error body says: CoinGecko's own message when it is JSON, else a short excerpt. */
const describeBody = (body: string): string => {
  const json = parseJson(body)
  if (Either.isRight(json) && Predicate.isRecord(json.right)) {
    const status = json.right["status"]
    const message = Predicate.isRecord(status) ? status["error_message"] : json.right["error"]
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
    const given = Option.match(retryAfter, {
      onNone: () => " (no Retry-After)",
      onSome: (d) => ` (Retry-After ${Duration.format(d)})`
    })
    return fail(
      "rate-limited",
      `HTTP 429 rate limited${given}: "${detail}"`,
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
