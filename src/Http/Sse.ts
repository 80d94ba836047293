import type { ServerResponse } from "node:http"
import { Readable } from "node:stream"
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Either, Metric, Option, ParseResult, Schema } from "effect"
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

/**
 * A client on the Node response itself: the feed writes each shared frame straight to it, like a bare broadcaster.
 * What the feed hands over before the response's headers are out (the preamble, the replay, a live batch) is held,
 * in order, and written by `start` once they are.
 */
const clientOf = (res: ServerResponse, wanted: ReadonlySet<string> | undefined) => {
  let held: Array<Uint8Array> | undefined = []
  const send = (bytes: Uint8Array) => {
    // Writing to an ended response would raise an unhandled 'error' on it.
    if (res.writableEnded || res.destroyed) return
    // Rare (a stalled reader), so the cost of running the counter's effect here does not matter.
    if (res.writableLength > maxBuffered) return Effect.runSync(Metric.increment(metrics.dropped))
    res.write(bytes)
  }
  const client: Client = { wanted, write: (bytes) => (held === undefined ? send(bytes) : void held.push(bytes)) }
  const start = () => {
    const first = held
    held = undefined
    if (first !== undefined && first.length > 0) send(first.length === 1 ? first[0]! : Buffer.concat(first))
  }
  return { client, start }
}

/**
 * The body of one stream: a Node Readable that yields no data itself. The server pipes it to the response right
 * after writing the headers, which asks it to read: the held frames go out then. Ending it (the feed closed) ends the
 * response. One small object per client instead of an Effect Stream with its channel executors and fibers, which
 * cost about 35 KiB of heap per connection.
 */
class Body extends Readable {
  constructor(private onStart: (() => void) | undefined) {
    super()
  }
  override _read() {
    const start = this.onStart
    this.onStart = undefined
    start?.()
  }
}

/** The open streams' bodies, ended together when the feed closes (one waiter for all, not one per client). */
const makeBodies = () => {
  const open = new Set<Body>()
  let ended = false
  return {
    /** A new body, kept until `release` (the request's scope closed: response ended, client gone, or HEAD). */
    open: (onStart: () => void) => {
      const body = new Body(onStart)
      if (ended) body.push(null)
      else open.add(body)
      return body
    },
    release: (body: Body) => void open.delete(body),
    endAll: Effect.sync(() => {
      ended = true
      for (const body of open) body.push(null)
      open.clear()
    })
  }
}
type Bodies = ReturnType<typeof makeBodies>

/**
 * GET /api/events: server-sent events `tick` (trades too), `candle` (provisional, sent again on each revision),
 * `final` (a candle closed, once), `gap` and `status`, each but `status` with an id;
 * `symbols` keeps to markets (`binance:BTC-USDT`) and bare symbols (every market of that base);
 * `Last-Event-ID` (header or `lastEventId` query) resumes from the replay buffer, or, past it or with an id this
 * server never gave, gets one `reset` (`{reason: "replay-buffer" | "unknown-id", oldest}`); a comment every 15 s keeps
 * proxies and dead-peer detection honest. Over a connection cap: 503 JSON with Retry-After. The slot is held by the
 * request's scope, which closes when the stream ends for any reason (client gone, server shutting down).
 */
export const events = (feed: LiveFeed["Type"], connections: Connections, bodies: Bodies, config: SseConfig) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = yield* HttpServerRequest.schemaSearchParams(SseQuery).pipe(Effect.either)
    if (Either.isLeft(query)) return badRequest(query.left)
    const headers = yield* Schema.decodeUnknown(LastEventId)(request.headers).pipe(Effect.either)
    if (Either.isLeft(headers)) return badRequest(headers.left)

    const address = Option.getOrElse(request.remoteAddress, () => "unknown")
    const wanted = query.right.symbols === undefined ? undefined : filterKeys(query.right.symbols)
    const lastEventId = headers.right["last-event-id"] ?? query.right.lastEventId
    const { client, start } = clientOf(NodeHttpServerRequest.toServerResponse(request), wanted)
    // The slot and the body together, held by the request's scope: one finalizer per connection, not one each.
    const slot = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const refusal = connections.tryAcquire(address)
        return refusal === undefined ? { body: bodies.open(start) } : { refusal }
      }),
      ({ body }) =>
        body === undefined
          ? Effect.void
          : Effect.suspend(() => {
              bodies.release(body)
              connections.release(address)
              return Metric.set(metrics.clients, connections.total())
            })
    )
    if (slot.refusal !== undefined) {
      yield* Metric.increment(Metric.tagged(metrics.rejected, "cap", slot.refusal))
      return refused(slot.refusal, config)
    }
    yield* Metric.set(metrics.clients, connections.total())
    // Attached now, in the request's scope (detached when it closes): frames are held until the headers are out.
    yield* feed.attach(client, { lastEventId, prefix: preambleBytes })
    return HttpServerResponse.raw(slot.body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
    })
  })

export const SseRoutes = (config: SseConfig) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.flatMap(LiveFeed, (feed) => {
      const connections = makeConnections(config)
      const bodies = makeBodies()
      return Effect.all([
        // Registered at 0, so a scrape shows the gauge before the first client.
        Metric.set(metrics.clients, 0),
        Effect.forkScoped(Effect.zipRight(feed.closed, bodies.endAll)),
        router.get("/api/events", events(feed, connections, bodies, config))
      ])
    })
  )
