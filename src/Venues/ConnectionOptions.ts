import { Duration } from "effect"

/** The knobs of one venue connection (Connection.frames), and the backoff between attempts. */

export interface ConnectionOptions {
  /** For metrics and logs (`venue` tag). */
  readonly venue: string
  readonly url: string
  /** Sent once the connection opens, in order, `sendSpacing` apart. */
  readonly subscribe?: ReadonlyArray<string>
  /** Least time between two messages we send (default 0; Binance allows 5 a second). */
  readonly sendSpacing?: Duration.DurationInput
  /** An application-level request the venue expects an answer to (a ping) → the answer; undefined for the rest. */
  readonly reply?: (text: string) => string | undefined
  /** A frame saying the venue is about to close the connection → why; the connection is replaced at once. */
  readonly closing?: (text: string) => string | undefined
  /** A message to send every `every` while open (an application-level ping), numbered from 1. */
  readonly keepAlive?: { readonly every: Duration.DurationInput; readonly message: (n: number) => string }
  /** No frame and no ping for this long: the connection is closed and replaced (default 30 s). */
  readonly staleAfter?: Duration.DurationInput
  /** A connection open this long is replaced (default: never; Binance cuts at 24 h). */
  readonly maxAge?: Duration.DurationInput
  /** Reconnect delays: `base` doubling per failed attempt up to `cap`, jittered (defaults 500 ms and 30 s). */
  readonly backoff?: { readonly base?: Duration.DurationInput; readonly cap?: Duration.DurationInput }
  /** A connection that lived this long starts the backoff again from `base` (default 60 s). */
  readonly resetAfter?: Duration.DurationInput
  /** An opening handshake not done in this long is given up (default 10 s). */
  readonly openTimeout?: Duration.DurationInput
  /**
   * Events held for a slow consumer before the socket is paused (default 1024). Paused, we stop reading it: TCP
   * pushes back on the venue, which may in the end drop us, a reconnect like any other; memory does not grow.
   */
  readonly buffer?: number
}

export interface Settings {
  readonly venue: string
  readonly url: string
  readonly subscribe: ReadonlyArray<string>
  readonly sendSpacing: number
  readonly reply: (text: string) => string | undefined
  readonly closing: (text: string) => string | undefined
  readonly keepAlive: { readonly every: number; readonly message: (n: number) => string } | undefined
  readonly staleAfter: number
  readonly maxAge: number
  readonly base: number
  readonly cap: number
  readonly resetAfter: number
  readonly openTimeout: number
  readonly buffer: number
}

const ms = (d: Duration.DurationInput | undefined, fallback: number) =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))
const none = () => undefined

export const settings = (o: ConnectionOptions): Settings => ({
  venue: o.venue,
  url: o.url,
  subscribe: o.subscribe ?? [],
  sendSpacing: ms(o.sendSpacing, 0),
  reply: o.reply ?? none,
  closing: o.closing ?? none,
  keepAlive: o.keepAlive && { every: Math.max(1, ms(o.keepAlive.every, 30_000)), message: o.keepAlive.message },
  staleAfter: Math.max(1, ms(o.staleAfter, 30_000)),
  maxAge: ms(o.maxAge, Number.POSITIVE_INFINITY),
  base: Math.max(1, ms(o.backoff?.base, 500)),
  cap: Math.max(1, ms(o.backoff?.cap, 30_000)),
  resetAfter: ms(o.resetAfter, 60_000),
  openTimeout: Math.max(1, ms(o.openTimeout, 10_000)),
  buffer: Math.max(2, Math.floor(o.buffer ?? 1024))
})

/**
 * The wait before reconnect attempt `attempt` (0 = the first after a close): `base · 2^attempt` capped at `cap`, of
 * which a random half ("equal jitter": never less than half, so a flapping venue is not hammered). `random` in [0, 1).
 */
export const backoffDelay = (attempt: number, base: number, cap: number, random: number): number => {
  const full = Math.min(cap, base * 2 ** Math.min(attempt, 52))
  return Math.round(full / 2 + (full / 2) * random)
}
