import { Duration, Effect, Random, Schedule } from "effect"
import type { CoinGeckoError } from "./Errors.js"

/** After a failure: base × 2^(n-1), capped at max, then jittered to 80–120 %. */
export interface Backoff {
  readonly base: Duration.DurationInput
  readonly max: Duration.DurationInput
}

/** Exponential backoff: base × 2^(attempt-1), capped at max, then scaled by 0.8 + 0.4 × unit (unit in [0, 1)). */
export const backoffDelay = (attempt: number, backoff: Backoff, unit: number): Duration.Duration => {
  const raw = Duration.toMillis(backoff.base) * 2 ** Math.max(0, Math.min(attempt - 1, 40))
  const capped = Math.min(raw, Duration.toMillis(backoff.max))
  return Duration.millis(Math.round(capped * (0.8 + 0.4 * unit)))
}

/** How long to wait after `error`, the `attempt`-th failure in a row: never less than its Retry-After. */
export const retryDelay = (
  error: CoinGeckoError,
  attempt: number,
  backoff: Backoff,
  unit: number
): Duration.Duration => {
  const delay = backoffDelay(attempt, backoff, unit)
  return error.retryAfter === undefined ? delay : Duration.max(error.retryAfter, delay)
}

export interface RetryPolicy {
  readonly backoff: Backoff
  /** Calls in all, the first one included. Default: no limit. */
  readonly maxAttempts?: number
  /** Before each wait: the failure, its number in a row (1, 2, …) and how long the wait is. */
  readonly onRetry?: (error: CoinGeckoError, attempt: number, delay: Duration.Duration) => Effect.Effect<void>
}

/**
 * The schedule of `retrying`: goes on while the error is retryable and attempts are left, and waits `retryDelay`
 * (a 429's Retry-After when longer than the backoff).
 */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.identity<CoinGeckoError>().pipe(
    Schedule.zipWith(Schedule.count, (error, n) => ({ error, attempt: n + 1 })),
    Schedule.whileOutput(({ attempt, error }) => error.retryable && attempt < (policy.maxAttempts ?? Infinity)),
    Schedule.mapEffect(({ attempt, error }) =>
      Effect.map(Random.next, (unit) => ({ error, attempt, delay: retryDelay(error, attempt, policy.backoff, unit) }))
    ),
    Schedule.addDelay(({ delay }) => delay),
    Schedule.onDecision(({ attempt, delay, error }, decision) =>
      decision._tag === "Continue" && policy.onRetry !== undefined ? policy.onRetry(error, attempt, delay) : Effect.void
    )
  )

/** `call`, again after each retryable failure (see `retrySchedule`); fails with the last error when retrying stops. */
export const retrying = <A, R>(
  call: Effect.Effect<A, CoinGeckoError, R>,
  policy: RetryPolicy
): Effect.Effect<A, CoinGeckoError, R> => Effect.retry(call, retrySchedule(policy))
