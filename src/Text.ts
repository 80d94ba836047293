import { ParseResult } from "effect"

/** How values are written for people: log lines, progress and error messages. */

/** 1234567 → "1,234,567". */
export const thousands = (n: number): string => n.toLocaleString("en-US")

/** `s` cut to at most `max` characters, the cut marked with "…". */
export const shorten = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)

/** "price: Expected a positive number, actual -1" rather than the schema's whole tree; at most `max` characters. */
export const describeParseError = (error: ParseResult.ParseError, max: number): string =>
  shorten(
    ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
      .join("; "),
    max
  )
