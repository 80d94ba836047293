import {
  HttpApiBuilder,
  type HttpApiEndpoint,
  HttpApiError,
  HttpApiSchema,
  type HttpApp,
  type HttpMethod,
  type HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Effect, Schema } from "effect"

// == errors: every error response is JSON { error, details? } with its status

const fields = { error: Schema.String, details: Schema.optional(Schema.Unknown) }

/** The body of every error response: what went wrong, and (where there is more to say) what it is about. */
export const ErrorBody = Schema.Struct(fields).annotations({
  identifier: "Error",
  description: "`error`: what went wrong, for people; `details`: the parameters or limits concerned, where known"
})

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
/** Over the rate limit (Limits.ts answers it itself, with Retry-After). */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", fields) {}
/** A dependency is down; the response also carries Retry-After. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", fields) {}

/**
 * An error as the wire has it: the body { error, details? } (no `_tag`: the status says which), at its status. The
 * one schema per status that every endpoint declares, so the document and the responses agree by construction.
 */
const onTheWire = <E extends typeof ErrorBody.Type>(
  error: new (body: typeof ErrorBody.Type) => E,
  status: number,
  description: string
) =>
  Schema.transform(ErrorBody, Schema.instanceOf(error), {
    strict: true,
    decode: (body) => new error(body),
    encode: (e) => ({ error: e.error, ...(e.details === undefined ? {} : { details: e.details }) })
  }).annotations(HttpApiSchema.annotations({ status, description }))

export const Errors = {
  badRequest: onTheWire(BadRequest, 400, "A parameter does not decode (`error` names it) or the parameters disagree"),
  unauthorized: onTheWire(Unauthorized, 401, "No bearer token, or not ADMIN_API_KEY"),
  notFound: onTheWire(NotFound, 404, "Nothing to answer with (see the operation), or the admin endpoints are off"),
  tooManyRequests: onTheWire(
    TooManyRequests,
    429,
    "Over this address's rate limit (RATE_LIMIT): retry after Retry-After"
  ),
  unavailable: onTheWire(Unavailable, 503, "A dependency this answer needs is down: retry after Retry-After")
}

/**
 * The errors an operation can answer besides its own: 400 where it takes parameters; under /api/ (rate-limited, and
 * backed by the database or the cache) 429 and 503. Applied to every endpoint, so the list is written once.
 */
export const withErrors = <
  Name extends string,
  Method extends HttpMethod.HttpMethod,
  Path,
  UrlParams,
  Payload,
  Headers,
  Success,
  Error,
  R,
  RE
>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, Path, UrlParams, Payload, Headers, Success, Error, R, RE>
): HttpApiEndpoint.HttpApiEndpoint<
  Name,
  Method,
  Path,
  UrlParams,
  Payload,
  Headers,
  Success,
  Error | BadRequest | TooManyRequests | Unavailable,
  R,
  RE
> => {
  const takesParameters = endpoint.pathSchema._tag === "Some" || endpoint.urlParamsSchema._tag === "Some"
  const withBadRequest = takesParameters ? endpoint.addError(Errors.badRequest) : endpoint
  const all = endpoint.path.startsWith("/api/")
    ? withBadRequest.addError(Errors.tooManyRequests).addError(Errors.unavailable)
    : withBadRequest
  // The declared type says every one of them; the document (built from the value) only those that apply.
  return all as never
}

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

const encodeBadRequest = Schema.encodeSync(Errors.badRequest)

/**
 * The platform's decode error (a parameter that does not decode) as our 400: `{ error: "invalid limit: …", details:
 * the issues }`. An API middleware, so every way of serving the API (the server, the tests' web handler) has it.
 */
export const decodeErrors = HttpApiBuilder.middleware(
  (app): HttpApp.Default =>
    Effect.catchIf(
      // The app is typed as failing with nothing; it fails with the endpoints' errors, the decode error among them.
      app as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>,
      (e): e is HttpApiError.HttpApiDecodeError => e instanceof HttpApiError.HttpApiDecodeError,
      (e) =>
        Effect.succeed(
          HttpServerResponse.unsafeJson(
            encodeBadRequest(new BadRequest({ error: describeIssues(e.issues), details: e.issues })),
            { status: 400 }
          )
        )
    ) as HttpApp.Default
)

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
