import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Effect, Either, ParseResult, Schema, Stream } from "effect"
import { LiveFeed, type FeedEvent } from "./LiveFeed.js"

const SseQuery = Schema.Struct({
  /** Comma-separated symbols; absent means all. */
  symbols: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9]{1,15}(,[A-Za-z0-9]{1,15}){0,99}$/)))
})
const LastEventId = Schema.Struct({
  "last-event-id": Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
})

const encode = (e: FeedEvent): string =>
  e.id > 0 ? `id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n` : `event: ${e.event}\ndata: ${e.data}\n\n`

const badRequest = (error: ParseResult.ParseError) =>
  HttpServerResponse.unsafeJson(
    { error: "invalid request", details: ParseResult.ArrayFormatter.formatErrorSync(error) },
    { status: 400 }
  )

/**
 * GET /api/events: server-sent events `tick`, `candle` and `status`, each `tick`/`candle` with an id;
 * `Last-Event-ID` (header or `lastEventId` query) resumes from the replay buffer; a comment every 15 s keeps
 * proxies and dead-peer detection honest.
 */
export const events = (feed: LiveFeed["Type"]) => Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const query = yield* HttpServerRequest.schemaSearchParams(SseQuery).pipe(Effect.either)
  if (Either.isLeft(query)) return badRequest(query.left)
  const headers = yield* Schema.decodeUnknown(LastEventId)(request.headers).pipe(Effect.either)
  if (Either.isLeft(headers)) return badRequest(headers.left)

  const wanted = query.right.symbols === undefined ? undefined : new Set(query.right.symbols.toUpperCase().split(","))
  const body = feed.events(headers.right["last-event-id"]).pipe(
    Stream.filter((e) => wanted === undefined || e.symbol === undefined || wanted.has(e.symbol)),
    Stream.map(encode),
    Stream.merge(Stream.tick("15 seconds").pipe(Stream.as(": ping\n\n")), { haltStrategy: "left" }),
    Stream.prepend(Chunk.of(": connected\nretry: 3000\n\n")),
    Stream.encodeText
  )
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
  })
})

export const SseRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.flatMap(LiveFeed, (feed) => router.get("/api/events", events(feed))))
