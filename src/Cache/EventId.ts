import { Schema } from "effect"

/**
 * A live-feed event's id, the same on every `api` instance: the position of the update that caused it in the shared
 * feed. On Redis, the entry id XADD gave it in the `crypto:events` stream (`<ms>-<seq>`); in the embedded cache (one
 * process) a counter (`<n>`). Ordered by (ms, seq); `n` reads as `n-0`, as Redis reads a bare number.
 */
export interface EventId {
  readonly ms: number
  readonly seq: number
  /** As the client got it, and sends it back in Last-Event-ID. */
  readonly text: string
}

// 15 digits keep both parts exact in a double (Redis's ms are 13 digits; a sequence within one ms stays far below).
const pattern = /^(\d{1,15})(?:-(\d{1,15}))?$/

/** The text form of an id, as Last-Event-ID carries it. */
export const EventIdText = Schema.String.pipe(
  Schema.pattern(pattern, { message: () => "an event id: <number> or <number>-<number>" })
)

export const parse = (text: string): EventId | undefined => {
  const m = pattern.exec(text)
  return m === null ? undefined : { ms: Number(m[1]), seq: Number(m[2] ?? 0), text }
}

export const compare = (a: EventId, b: EventId): number => a.ms - b.ms || a.seq - b.seq

export const zero: EventId = { ms: 0, seq: 0, text: "0" }
