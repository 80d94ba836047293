import { HttpApiSchema } from "@effect/platform"
import { Effect, Schema } from "effect"

// == errors: JSON { error, details } with their status

export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  {
    error: Schema.String,
    details: Schema.optional(Schema.Unknown)
  },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  {
    error: Schema.String,
    details: Schema.optional(Schema.Unknown)
  },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** A dependency is down; the response also carries Retry-After. */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  {
    error: Schema.String,
    details: Schema.optional(Schema.Unknown)
  },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  {
    error: Schema.String,
    details: Schema.optional(Schema.Unknown)
  },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** "invalid interval: expected "1m" | "5m" | …, got "2m"": one phrase per parameter, from Schema's issues. */
export const describeIssues = (issues: ReadonlyArray<unknown>): string => {
  const byParam = new Map<string, { expected: Set<string>; actual: string | undefined; other: Array<string> }>()
  for (const issue of issues) {
    if (typeof issue !== "object" || issue === null) continue
    const path = "path" in issue && Array.isArray(issue.path) ? issue.path.join(".") : ""
    const message = "message" in issue && typeof issue.message === "string" ? issue.message : ""
    const entry = byParam.get(path) ?? { expected: new Set<string>(), actual: undefined, other: [] }
    byParam.set(path, entry)
    const m = /^Expected (.*), actual (.*)$/s.exec(message)
    if (m === null) entry.other.push(message)
    else if (m[1] !== "undefined") {
      entry.expected.add(m[1]!)
      entry.actual = m[2]
    }
  }
  const parts = [...byParam].map(([param, e]) => {
    const what = e.expected.size > 0 ? `expected ${[...e.expected].join(" | ")}, got ${e.actual}` : e.other.join("; ")
    return `${param || "request"}: ${what}`
  })
  return parts.length === 0 ? "invalid request" : `invalid ${parts.join("; ")}`
}

export const databaseDown = () => new Unavailable({ error: "the database is unavailable; retry shortly" })

/** 400 unless `from` is before `to` (when both are given). */
export const fromBeforeTo = (q: { readonly from?: number | undefined; readonly to?: number | undefined }) =>
  q.from !== undefined && q.to !== undefined && q.from >= q.to
    ? Effect.fail(
        new BadRequest({
          error: `invalid from: must be before to (from ${q.from}, to ${q.to})`,
          details: [{ path: ["from"], message: "from must be before to" }]
        })
      )
    : Effect.void
