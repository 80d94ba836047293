import { Data } from "effect"

/** A source failed in a way worth retrying or reporting; `reason` is closed so callers can count by kind. */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: "coingecko" | "simulator" | "replay"
  readonly reason: "unavailable" | "rate-limited" | "bad-response" | "timeout" | "not-implemented" | "io"
  readonly message: string
  readonly cause?: unknown
}> {}
