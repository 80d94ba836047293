import { Either, ParseResult, Predicate, Schema } from "effect"
import { EpochMillis } from "../Domain/Tick.js"
import { describeParseError, shorten } from "../Text.js"

/** What every venue's frame decoder shares: the frames it skips, and the pieces of outside text it reads. */

/** A frame of a kind we do not read (a channel we did not ask for, a new message type): counted and skipped. */
export interface Unknown {
  readonly _tag: "Unknown"
  /** The frame's own type name (`depthUpdate`, `ticker`), or "?" when it names none. */
  readonly kind: string
  readonly excerpt: string
}

/** A frame that is not JSON, or of a kind we read but not in the shape we expect: counted, logged, skipped. */
export interface Malformed {
  readonly _tag: "Malformed"
  /** The kind it claims to be (`aggTrade`), or "json" when it is not JSON at all. */
  readonly kind: string
  readonly reason: string
  readonly excerpt: string
}

/** A frame we skip: never an exception, never fatal. */
export type Skipped = Unknown | Malformed

const excerptLength = 200

export const unknown = (kind: string, text: string): Unknown => ({
  _tag: "Unknown",
  kind,
  excerpt: shorten(text, excerptLength)
})

export const malformed = (kind: string, reason: string, text: string): Malformed => ({
  _tag: "Malformed",
  kind,
  reason,
  excerpt: shorten(text, excerptLength)
})

/** A frame's text → its JSON, or a Malformed "json" frame. */
export const parseFrame = (text: string): Either.Either<unknown, Malformed> =>
  Either.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => malformed("json", e instanceof Error ? e.message : "not JSON", text)
  })

/** `u` decoded with `schema`, or a Malformed frame of `kind` saying which field is wrong. */
export const decodeAs = <A, I>(
  schema: Schema.Schema<A, I>,
  kind: string,
  u: unknown,
  text: string
): Either.Either<A, Malformed> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })(u), (e) =>
    malformed(kind, describeParseError(e, 300), text)
  )

/** The string field `key` of a JSON object, if it has one. */
export const stringField = (u: unknown, key: string): string | undefined => {
  if (!Predicate.isRecord(u)) return undefined
  const v = u[key]
  return typeof v === "string" ? v : undefined
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/

/** An RFC 3339 UTC time as Coinbase and Kraken write it (microseconds and all) → epoch ms, the fraction cut to ms. */
export const IsoMillis = Schema.transformOrFail(Schema.String, EpochMillis, {
  strict: true,
  decode: (s, _, ast) => {
    const m = isoPattern.exec(s)
    const at = m === null ? Number.NaN : Date.parse(`${s.slice(0, 19)}${(m[1] ?? "").slice(0, 4)}Z`)
    return Number.isNaN(at)
      ? ParseResult.fail(
          new ParseResult.Type(ast, s, `expected a UTC time like 2021-04-17T16:43:37.121358Z, got "${s}"`)
        )
      : ParseResult.succeed(at)
  },
  encode: (ms) => ParseResult.succeed(new Date(ms).toISOString())
})
