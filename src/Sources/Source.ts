import { Data, Schema } from "effect"
import { Tick } from "../Domain/Tick.js"

/** A source failed in a way worth retrying or reporting; `reason` is closed so callers can count by kind. */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: "coingecko" | "simulator" | "replay"
  readonly reason:
    | "unavailable" // connection refused or reset, 5xx, a CDN block
    | "rate-limited" // 429
    | "bad-response" // an answer that is not JSON or does not decode
    | "timeout"
    | "unauthorized" // the API key is missing, wrong or for the other plan: retrying cannot help
    | "rejected" // any other 4xx (a wrong base URL, a bad request): retrying cannot help
    | "bad-input" // a replay file that cannot be read as any supported format
    | "not-implemented"
    | "io"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The Tick a source built from its fields, checked by the Tick schema (the slow path, for its error messages;
 * a source's fields are few). Not `decodeTick` (Domain/Tick.ts), which reads the bus's JSON text fast.
 */
export const decodeTickFields = Schema.decodeUnknownEither(Tick)
