import { type Chunk, Context, Deferred, Duration, Effect, Layer, Stream } from "effect"
import { LatestCache, withMarket } from "../Cache/LatestCache.js"
import type { Candle } from "../Domain/Candle.js"
import { marketParts } from "../Domain/Market.js"
import type { Update } from "../Domain/Update.js"
import * as Schedules from "../Schedules.js"
import { passes } from "./Markets.js"

/**
 * One server-sent event as the feed keeps it: an increasing id (0: none), a name, the market and symbol it is about
 * (none for a status), a JSON payload, its SSE frame.
 */
export interface FeedEvent {
  readonly id: number
  readonly event: "tick" | "candle" | "final" | "gap" | "status" | "reset"
  readonly market: string | undefined
  readonly symbol: string | undefined
  readonly data: string
  /** The event as SSE bytes, built once and written as is to every client. */
  readonly frame: Uint8Array
}

/** Where one connected client's bytes go. */
export interface Client {
  /** The markets (`venue:BASE-QUOTE`) and bare symbols (every market of that base) it asked for; undefined: all. */
  readonly wanted: ReadonlySet<string> | undefined
  /** Sends bytes (whole frames) to the client, or drops them when the client is too far behind. */
  readonly write: (bytes: Uint8Array) => void
}

const encoder = new TextEncoder()

export const frameOf = (id: number, event: string, data: string): Uint8Array =>
  encoder.encode(id > 0 ? `id: ${id}\nevent: ${event}\ndata: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`)

/** A comment line: keeps proxies from timing the stream out and lets a dead peer be noticed. */
export const ping = encoder.encode(": ping\n\n")

const join = (frames: ReadonlyArray<Uint8Array>): Uint8Array =>
  frames.length === 1 ? frames[0]! : Buffer.concat(frames)

const wants = (client: Client, e: FeedEvent) =>
  client.wanted === undefined ||
  (e.market === undefined && e.symbol === undefined) ||
  passes(client.wanted, e.market, e.symbol)

/** The feed's state: connected clients, the replay buffer, and the events of the current turn not yet sent. */
class Broadcast {
  readonly recent: Array<FeedEvent> = []
  readonly clients = new Set<Client>()
  pending: Array<FeedEvent> = []
  nextId = 1
  cacheUp = true

  constructor(readonly replaySize: number) {}

  // A batch goes out as one write per client: one syscall and one chunk instead of one per event.
  broadcast(events: ReadonlyArray<FeedEvent>) {
    if (events.length === 0 || this.clients.size === 0) return
    let all: Uint8Array | undefined
    for (const client of this.clients) {
      if (client.wanted === undefined) {
        client.write((all ??= join(events.map((e) => e.frame))))
        continue
      }
      const mine = events.filter((e) => wants(client, e))
      if (mine.length > 0) client.write(join(mine.map((e) => e.frame)))
    }
  }

  // Events made in one turn of the event loop (the cache hands them over one by one) go out together at its end:
  // one write per client per burst instead of one per event. They join the replay buffer only then, so a client
  // attaching meanwhile gets them once, live.
  readonly flush = () => {
    const events = this.pending
    this.pending = []
    this.recent.push(...events)
    if (this.recent.length > this.replaySize * 1.5) this.recent.splice(0, this.recent.length - this.replaySize)
    this.broadcast(events)
  }

  emit(event: FeedEvent["event"], market: string | undefined, symbol: string | undefined, data: string) {
    const id = this.nextId++
    if (this.pending.length === 0) setImmediate(this.flush)
    this.pending.push({ id, event, market, symbol, data, frame: frameOf(id, event, data) })
  }

  /**
   * What a client resuming after `lastEventId` is owed: the events it missed, from the buffer; or, when some of them
   * are no longer there (older than the buffer) or the id was never given (this server restarted since), one `reset`
   * (no id, so a reconnect before the next event resets again) telling it to reload, then only live events.
   */
  resume(client: Client, lastEventId: number | undefined): Array<Uint8Array> {
    if (lastEventId === undefined) return []
    // The first id still to be had: the buffer's oldest, else a pending event's (it goes out live), else the next.
    const firstKept = this.recent[0]?.id ?? this.pending[0]?.id ?? this.nextId
    const reason = lastEventId >= this.nextId ? "unknown-id" : lastEventId + 1 < firstKept ? "replay-buffer" : undefined
    if (reason !== undefined) {
      return [frameOf(0, "reset", JSON.stringify({ reason, oldest: this.recent[0]?.id ?? null }))]
    }
    return this.recent.filter((e) => e.id > lastEventId && wants(client, e)).map((e) => e.frame)
  }

  statusData() {
    return JSON.stringify({ cache: this.cacheUp ? "up" : "down" })
  }
}

/** Final buckets remembered per market and interval; older ones are only known to be at or before `floor`. */
const finalsKept = 16

/**
 * Which candles have been sent as `final`, per market and interval. A candle closes once and never changes after
 * (docs/completeness.md), and a bucket closes only after every earlier one of its market and interval; but the
 * processor replays what it had not checkpointed after a restart or a rebalance, so the same final candle, or the
 * provisional values that preceded it, can come again. Those are repeats, not revisions: not sent. Finals can arrive
 * out of bucket order (the cache writer keeps each candle's newest values in the order the candles were first
 * touched), so the recent ones are kept by bucket, not as a single newest.
 */
class Finals {
  private readonly byKey = new Map<string, { readonly recent: Set<number>; newest: number; floor: number }>()

  /** "candle" or "final" for this update, or undefined for a repeat of what a `final` event already settled. */
  eventOf(candle: Candle): "candle" | "final" | undefined {
    const key = `${candle.market} ${candle.interval}`
    const b = candle.bucketStart
    const known = this.byKey.get(key)
    if (candle.status === "provisional") return known !== undefined && b <= known.newest ? undefined : "candle"
    if (known === undefined) {
      this.byKey.set(key, { recent: new Set([b]), newest: b, floor: -Infinity })
      return "final"
    }
    if (b <= known.floor || known.recent.has(b)) return undefined
    known.recent.add(b)
    known.newest = Math.max(known.newest, b)
    if (known.recent.size > finalsKept) {
      const oldest = Math.min(...known.recent)
      known.recent.delete(oldest)
      known.floor = oldest
    }
    return "final"
  }
}

/** An update as its event, with its market: a tick (a trade too: with tradeId and side), a candle, a gap. */
const emitUpdate = (feed: Broadcast, finals: Finals, u: Update) => {
  switch (u._tag) {
    case "tick": {
      const tick = withMarket(u.tick)
      return feed.emit("tick", tick.market, tick.symbol, JSON.stringify(tick))
    }
    case "candle": {
      // Each revision of a provisional candle goes out; its closing (status final or gap) once, as `final`.
      const event = finals.eventOf(u.candle)
      if (event === undefined) return
      // The candle's fields, its status among them, and its indicator values beside them.
      return feed.emit(
        event,
        u.candle.market,
        u.candle.symbol,
        JSON.stringify({ ...u.candle, indicators: u.indicators })
      )
    }
    case "gap":
      // The Gap record as the bus carries it (docs/markets.md).
      return feed.emit("gap", u.gap.market, marketParts(u.gap.market).base, JSON.stringify(u.gap))
  }
}

/**
 * One cache subscription per process, broadcast to every SSE client: each event is encoded once and the
 * same bytes are handed to every client (a client that falls behind drops them, never slows anyone else),
 * with a short replay buffer so a client reconnecting with Last-Event-ID gets what it missed, and one
 * heartbeat timer for all clients.
 */
export const make = (options: { readonly replay?: number; readonly heartbeat?: Duration.DurationInput } = {}) =>
  Effect.gen(function* () {
    const cache = yield* LatestCache
    const feed = new Broadcast(options.replay ?? 2000)
    const finals = new Finals()
    const { clients } = feed
    const closed = yield* Deferred.make<void>()

    const setCache = (up: boolean) =>
      up === feed.cacheUp
        ? Effect.void
        : Effect.suspend(() => {
            feed.cacheUp = up
            feed.emit("status", undefined, undefined, feed.statusData())
            return Effect.logInfo(`live feed: cache subscription ${up ? "restored" : "lost"}`)
          })

    const publish = (updates: Chunk.Chunk<Update>) =>
      Effect.zipRight(
        setCache(true),
        Effect.sync(() => {
          for (const u of updates) emitUpdate(feed, finals, u)
        })
      )

    yield* cache.updates.pipe(
      Stream.runForEachChunk(publish),
      Effect.tapError(() => setCache(false)),
      Effect.retry(Schedules.resubscribe),
      Effect.forkScoped
    )

    yield* Effect.sync(() => {
      for (const client of clients) client.write(ping)
    }).pipe(Effect.delay(options.heartbeat ?? Duration.seconds(15)), Effect.forever, Effect.forkScoped)

    /**
     * Sends `prefix`, the status, the events after `lastEventId` still in the buffer, then every live event,
     * until the scope closes. All in one synchronous step, so nothing falls between the replay and the live events.
     */
    const attach = (
      client: Client,
      from: { readonly lastEventId?: number | undefined; readonly prefix?: Uint8Array }
    ) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const { lastEventId, prefix } = from
          const frames = [frameOf(0, "status", feed.statusData()), ...feed.resume(client, lastEventId)]
          client.write(join(prefix === undefined ? frames : [prefix, ...frames]))
          clients.add(client)
        }),
        () => Effect.sync(() => void clients.delete(client))
      )

    return {
      attach,
      /** Resolves once the feed is closed: each client's response ends then. */
      closed: Deferred.await(closed),
      clients: Effect.sync(() => clients.size),
      cacheUp: Effect.sync(() => feed.cacheUp),
      /** Ends every client stream, so open SSE connections never hold up the server's shutdown. */
      close: Effect.zipRight(
        Deferred.succeed(closed, undefined),
        Effect.sync(() => clients.clear())
      )
    } as const
  })

export class LiveFeed extends Context.Tag("app/LiveFeed")<LiveFeed, Effect.Effect.Success<ReturnType<typeof make>>>() {}

export const layer = Layer.scoped(LiveFeed, make())
