import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Clock, Data, Duration, Effect, Metric, Option, Ref } from "effect"
import { fillMetrics } from "./Metrics.js"

/**
 * A venue's REST API as the gap-fill uses it: GET a path, within the venue's limits. Built on @effect/platform's
 * HttpClient (the CoinGecko client uses it too): requests are interrupted, not abandoned, when a timeout fires, the
 * clock is Effect's (so tests drive spacing and Retry-After with the TestClock), and a recording can stand in for
 * the network by swapping the transport.
 */

export type TradeVenue = "binance" | "coinbase" | "kraken"

/** One answer as it came: when (epoch ms), for which path (with its query), its status and body text. */
export interface RestAnswer {
  readonly at: number
  readonly url: string
  readonly status: number
  readonly text: string
  /** Retry-After in seconds, when the venue sent one. */
  readonly retryAfter: number | undefined
}

/** No answer: unreachable, reset, timed out, or (replaying) not in the recording. */
export class TransportError extends Data.TaggedError("TransportError")<{ readonly message: string }> {}

/** GET a path (with its query) of the venue's REST API. */
export type Transport = (url: string) => Effect.Effect<RestAnswer, TransportError>

/** Why a page could not be had, after the retries the limits allow. */
export class RestFailure extends Data.TaggedError("RestFailure")<{
  readonly reason: "rate-limited" | "rest-failed"
  readonly message: string
}> {}

export interface RestLimits {
  /** Least time between two requests to the venue, across its markets (Kraken: about 1 s). */
  readonly minSpacing: Duration.DurationInput
  /** Longest Retry-After honoured; a longer one (a Binance ban) fails the page at once, and holds later ones. */
  readonly maxRetryAfter: Duration.DurationInput
  /** Wait after a refusal without Retry-After, and the first backoff after a failure (doubling). */
  readonly retryWait: Duration.DurationInput
  /** Attempts per page, refusals and failures together. */
  readonly maxAttempts: number
}

export const defaultLimits = (venue: TradeVenue): RestLimits => ({
  minSpacing: venue === "kraken" ? "1100 millis" : venue === "coinbase" ? "150 millis" : "100 millis",
  maxRetryAfter: "2 minutes",
  retryWait: "2 seconds",
  maxAttempts: 5
})

export interface RestClient {
  readonly venue: TradeVenue
  /** A page's answer with a 2xx status (or another the caller reads, like Kraken's errors in a 200). */
  readonly get: (url: string) => Effect.Effect<RestAnswer, RestFailure>
}

/** The network: GET baseUrl + url, within `timeout`. */
export const httpTransport = (
  baseUrl: string,
  timeout: Duration.DurationInput = "10 seconds"
): Effect.Effect<Transport, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (http): Transport => {
    const root = baseUrl.replace(/\/+$/, "")
    return (url) =>
      Effect.gen(function* () {
        const request = HttpClientRequest.get(`${root}${url}`).pipe(HttpClientRequest.acceptJson)
        const response = yield* http.execute(request)
        const text = yield* response.text
        const at = yield* Clock.currentTimeMillis
        const retry = Number(response.headers["retry-after"])
        return { at, url, status: response.status, text, retryAfter: Number.isFinite(retry) ? retry : undefined }
      }).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new TransportError({ message: `${url}: no answer within ${Duration.format(timeout)}` })
        }),
        Effect.catchTags({
          RequestError: (e) =>
            Effect.fail(
              new TransportError({
                message: `${url}: ${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ""}`
              })
            ),
          ResponseError: (e) => Effect.fail(new TransportError({ message: `${url}: ${e.message}` }))
        })
      )
  })

const isRateLimited = (venue: TradeVenue, answer: RestAnswer) =>
  answer.status === 429 || answer.status === 418 || (venue === "kraken" && answer.text.includes("EAPI:Rate limit"))

export interface ClientOptions {
  readonly venue: TradeVenue
  readonly transport: Transport
  readonly limits?: Partial<RestLimits> | undefined
  /** Every answer, as it came (a recording's `rest` lines). */
  readonly record?: (answer: RestAnswer) => Effect.Effect<void>
}

/** A client holding the venue's limits: one request at a time, spaced, and no request while refused. */
export const makeClient = (options: ClientOptions): Effect.Effect<RestClient> =>
  Effect.gen(function* () {
    const { venue, transport } = options
    const limits = { ...defaultLimits(venue), ...options.limits }
    const spacing = Duration.toMillis(limits.minSpacing)
    const maxRetryAfter = Duration.toMillis(limits.maxRetryAfter)
    const retryWait = Duration.toMillis(limits.retryWait)
    const lock = yield* Effect.makeSemaphore(1)
    /** No request before this time (epoch ms): the spacing, or a refusal's Retry-After. */
    const notBefore = yield* Ref.make(0)
    const rateLimited = Metric.tagged(fillMetrics.restRateLimited, "venue", venue)
    const calls = (status: number) =>
      Metric.tagged(Metric.tagged(fillMetrics.restCalls, "venue", venue), "status", `${status}`)

    const waitTurn = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const at = yield* Ref.get(notBefore)
      if (at - now > maxRetryAfter)
        return yield* new RestFailure({
          reason: "rate-limited",
          message: `refused until ${new Date(at).toISOString()}`
        })
      if (at > now) yield* Effect.sleep(at - now)
    })

    const once = (url: string) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          yield* waitTurn
          const answer = yield* Effect.either(transport(url))
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(notBefore, (at) => Math.max(at, now + spacing))
          if (answer._tag === "Left") {
            yield* Metric.increment(calls(0))
            return answer
          }
          yield* Metric.increment(calls(answer.right.status))
          if (options.record !== undefined) yield* options.record(answer.right)
          if (isRateLimited(venue, answer.right)) {
            yield* Metric.increment(rateLimited)
            const wait = answer.right.retryAfter === undefined ? retryWait : answer.right.retryAfter * 1000
            yield* Ref.update(notBefore, (at) => Math.max(at, now + wait))
          }
          return answer
        })
      )

    const get = (url: string): Effect.Effect<RestAnswer, RestFailure> =>
      Effect.gen(function* () {
        let last = "no attempt"
        for (let attempt = 1; attempt <= limits.maxAttempts; attempt++) {
          const answer = yield* once(url)
          if (answer._tag === "Right" && isRateLimited(venue, answer.right)) {
            last = `refused (${answer.right.status}${Option.match(Option.fromNullable(answer.right.retryAfter), {
              onNone: () => "",
              onSome: (s) => `, Retry-After ${s} s`
            })})`
            if (attempt === limits.maxAttempts) return yield* new RestFailure({ reason: "rate-limited", message: last })
            continue
          }
          if (answer._tag === "Right" && answer.right.status < 500) return answer.right
          last = answer._tag === "Left" ? answer.left.message : `${url}: HTTP ${answer.right.status}`
          if (attempt < limits.maxAttempts) yield* Effect.sleep(retryWait * 2 ** (attempt - 1))
        }
        return yield* new RestFailure({ reason: "rest-failed", message: last })
      })

    return { venue, get }
  })
