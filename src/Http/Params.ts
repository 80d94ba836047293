import { ParseResult, Schema } from "effect"
import { EpochMillis } from "../Domain/Tick.js"

// Query parameters shared by the endpoints. Each is a string with a pattern that says exactly what the server takes
// (the OpenAPI document shows it): what the pattern admits decodes, what it does not is a 400. Patterns end in
// `$(?!\n)`, not `$`: in Python's regex flavour (schemathesis, most generators) `$` also matches before a final newline.

/** A pattern anchored at both ends, in both flavours. */
export const anchored = (body: string) => new RegExp(`^(?:${body})$(?!\\n)`)

/** A decimal integer in [min, max] with no sign or leading zero, as a regex body (1..5000: `[1-9]|[1-9][0-9]|…`). */
export const rangePattern = (min: number, max: number): string => {
  // Cut [min, max] where a run of trailing 9s or 0s changes (to-regex-range's method): each piece is a fixed prefix,
  // one digit range, then any digits.
  const stops = new Set([max])
  for (let k = 1; ; k++) {
    const s = String(min)
    const stop = Number(s.length > k ? s.slice(0, -k) + "9".repeat(k) : "9".repeat(k))
    if (stop >= max) break
    stops.add(stop)
  }
  for (let k = 1; ; k++) {
    const stop = max + 1 - ((max + 1) % 10 ** k) - 1
    if (stop < min) break
    stops.add(stop)
  }
  const pieces: Array<string> = []
  let start = min
  for (const stop of [...stops].sort((a, b) => a - b)) {
    const a = String(start)
    const b = String(stop)
    pieces.push([...a].map((d, i) => (d === b[i] ? d : `[${d}-${b[i]}]`)).join(""))
    start = stop + 1
  }
  return pieces.join("|")
}

/** An integer query parameter in [min, max] (decimal digits, no sign or leading zero). */
export const IntParam = (min: number, max: number) =>
  Schema.String.pipe(
    Schema.pattern(anchored(rangePattern(min, max)), { message: () => `expected an integer from ${min} to ${max}` }),
    Schema.annotations({ description: `an integer from ${min} to ${max}` })
  ).pipe(Schema.compose(Schema.NumberFromString), Schema.compose(Schema.Int))

const epochForm = "[0-9]{1,15}"
// 1971 onwards, so no offset takes an instant before the epoch; an offset is required with a time (no local time).
const isoForm =
  "(197[1-9]|19[89][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])" +
  "(?:T([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\\.([0-9]{1,3}))?)?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))?"
const timePattern = anchored(`${epochForm}|${isoForm}`)
const isoPattern = anchored(isoForm)

/** The instant a time parameter names: epoch ms as is, a date at 00:00 UTC; a day past its month's end rolls over. */
const timeOf = (s: string): number => {
  const m = isoPattern.exec(s)
  if (m === null) return Number(s)
  const [, y, mo, d, h = "0", mi = "0", sec = "0", frac = "0", zone = "Z"] = m
  const offset = zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)))
  const utc = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(sec),
    Number(frac.padEnd(3, "0"))
  )
  return utc - offset * 60_000
}

/** Epoch milliseconds (up to 15 digits), or an ISO 8601 date (UTC) or date-time with Z or an offset, from 1971. */
export const TimeParam = Schema.transformOrFail(
  Schema.String.pipe(
    Schema.pattern(timePattern, {
      message: () => "expected epoch milliseconds or an ISO 8601 date-time (e.g. 2025-11-20T12:00:00Z)"
    }),
    Schema.annotations({
      description:
        "epoch milliseconds (up to 15 digits), or an ISO 8601 date (2025-11-20, UTC midnight) or date-time with Z or " +
        "an offset (2025-11-20T12:00:00Z, 2025-11-20T13:00+01:00; seconds and milliseconds optional), from 1971"
    })
  ),
  EpochMillis,
  {
    strict: true,
    decode: (s, _, ast) => {
      const ms = timeOf(s)
      return Number.isFinite(ms) ? ParseResult.succeed(ms) : ParseResult.fail(new ParseResult.Type(ast, s))
    },
    encode: (ms) => ParseResult.succeed(String(ms))
  }
)

/** `?limit=` of the list endpoints: 1 to 5000. */
export const Limit = IntParam(1, 5000)

/** A yes/no query parameter: exactly "true" or "false". */
export const Flag = Schema.BooleanFromString.annotations({ description: '"true" or "false"' })
