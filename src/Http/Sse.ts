import type { ServerResponse } from "node:http"
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Either, Metric, Option, ParseResult, Schema, Stream } from "effect"
import { EventIdText } from "../Cache/EventId.js"
import type { SseConfig } from "../Config/Http.js"
import { describeIssues } from "./Errors.js"
import { type Client, LiveFeed } from "./LiveFeed.js"
import { filterKeys, MarketListParam } from "./Markets.js"

// == connection caps

export const metrics = {
  clients: Metric.gauge("sse_clients", { description: "Open server-sent event streams" }),
  rejected: Metric.counter("sse_rejected_total", {
    description: "SSE connections refused at a connection cap",
    incremental: true
  }),
  dropped: Metric.counter("sse_dropped_writes_total", {
    description: "Batches of SSE frames not written to a client that was too far behind",
    incremental: true
  })
}

export type Refusal = "global" | "address"

/** Counts open streams, in total and per remote address; plain state, changed only inside Effect.sync (one thread). */
export const makeConnections = (config: SseConfig) => {
  let total = 0
  const byAddress = new Map<string, number>()
  return {
    /** Takes a slot, or says which cap is full. */
    tryAcquire: (address: string): Refusal | undefined => {
      const mine = byAddress.get(address) ?? 0
      if (total >= config.maxClients) return "global"
      if (mine >= config.maxPerAddress) return "address"
      total += 1
      byAddress.set(address, mine + 1)
      return undefined
    },
    release: (address: string): void => {
      const mine = byAddress.get(address) ?? 0
      if (mine <= 1) byAddress.delete(address)
      else byAddress.set(address, mine - 1)
      total = Math.max(0, total - 1)
    },
    total: () => total,
    of: (address: string) => byAddress.get(address) ?? 0
  }
}
export type Connections = ReturnType<typeof makeConnections>

// == request

const SseQuery = Schema.Struct({
  /** Comma-separated markets and symbols (a symbol: every market of it); absent means all. */
  symbols: Schema.optional(MarketListParam),
  /** Same as the Last-Event-ID header, for a page that opens a new EventSource itself (the header wins). */
  lastEventId: Schema.optional(EventIdText)
})
const LastEventId = Schema.Struct({ "last-event-id": Schema.optional(EventIdText) })

/** 400 in the API's shape, naming the parameter(s): `invalid symbols: expected …`. */
const badRequest = (error: ParseResult.ParseError) => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  return HttpServerResponse.unsafeJson({ error: describeIssues(issues), details: issues }, { status: 400 })
}

const refused = (why: Refusal, config: SseConfig) =>
  HttpServerResponse.unsafeJson(
    {
      error:
        why === "global"
          ? `too many live-feed connections (the server's cap is ${config.maxClients}); retry shortly`
          : `too many live-feed connections from this address (the cap is ${config.maxPerAddress}); close one or retry shortly`,
      details: { cap: why === "global" ? "SSE_MAX_CLIENTS" : "SSE_MAX_PER_ADDRESS" }
    },
    { status: 503 }
  ) // the response middleware adds Retry-After

/** The first frame: a comment, so proxies flush headers at once, and the reconnection delay for EventSource. */
export const preamble = ": connected\nretry: 3000\n\n"
const preambleBytes = new TextEncoder().encode(preamble)

/**
 * Bytes a client may have queued (in Node and its socket) before new writes to it are dropped: about a thousand
 * events. A client that does not read loses whole frames (its ids jump) and never holds up the others.
 */
export const maxBuffered = 256 * 1024

/** A client on the Node response itself: the feed writes each shared frame straight to it, like a bare broadcaster. */
const clientOf = (res: ServerResponse, wanted: ReadonlySet<string> | undefined): Client => ({
  wanted,
  write: (bytes) => {
    // Writing to an ended response would raise an unhandled 'error' on it.
    if (res.writableEnded || res.destroyed) return
    // Rare (a stalled reader), so the cost of running the counter's effect here does not matter.
    if (res.writableLength > maxBuffered) return Effect.runSync(Metric.increment(metrics.dropped))
    res.write(bytes)
  }
})

/**
 * GET /api/events: server-sent events `tick` (trades too), `candle` (provisional, sent again on each revision),
 * `final` (a candle closed, once), `gap` and `status`, each but `status` with an id;
 * `symbols` keeps to markets (`binance:BTC-USDT`) and bare symbols (every market of that base);
 * `Last-Event-ID` (header or `lastEventId` query) resumes from the replay buffer, or, past it or with an id this
 * server never gave, gets one `reset` (`{reason: "replay-buffer" | "unknown-id", oldest}`); a comment every 15 s keeps
 * proxies and dead-peer detection honest. Over a connection cap: 503 JSON with Retry-After. The slot is held by the
 * request's scope, which closes when the stream ends for any reason (client gone, server shutting down).
 */
export const events = (feed: LiveFeed["Type"], connections: Connections, config: SseConfig) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = yield* HttpServerRequest.schemaSearchParams(SseQuery).pipe(Effect.either)
    if (Either.isLeft(query)) return badRequest(query.left)
    const headers = yield* Schema.decodeUnknown(LastEventId)(request.headers).pipe(Effect.either)
    if (Either.isLeft(headers)) return badRequest(headers.left)

    const address = Option.getOrElse(request.remoteAddress, () => "unknown")
    const refusal = yield* Effect.acquireRelease(
      Effect.sync(() => connections.tryAcquire(address)),
      (refusal) =>
        refusal === undefined
          ? Effect.suspend(() => {
              connections.release(address)
              return Metric.set(metrics.clients, connections.total())
            })
          : Effect.void
    )
    if (refusal !== undefined) {
      yield* Metric.increment(Metric.tagged(metrics.rejected, "cap", refusal))
      return refused(refusal, config)
    }
    yield* Metric.set(metrics.clients, connections.total())

    const wanted = query.right.symbols === undefined ? undefined : filterKeys(query.right.symbols)
    const lastEventId = headers.right["last-event-id"] ?? query.right.lastEventId
    // The body carries no data itself: once the server has written the headers it runs this, which attaches the
    // response to the feed (every frame is written to it from there) and lasts until the feed closes or the client
    // leaves (the request is interrupted, the scope closes and the client is detached).
    const body = Stream.unwrapScoped(
      Effect.gen(function* () {
        yield* feed.attach(clientOf(NodeHttpServerRequest.toServerResponse(request), wanted), {
          lastEventId,
          prefix: preambleBytes
        })
        return Stream.drain(Stream.fromEffect(feed.closed))
      })
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
    })
  })

export const SseRoutes = (config: SseConfig) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.flatMap(LiveFeed, (feed) => {
      const connections = makeConnections(config)
      // Registered at 0, so a scrape shows the gauge before the first client.
      return Effect.zipRight(
        Metric.set(metrics.clients, 0),
        router.get("/api/events", events(feed, connections, config))
      )
    })
  )
