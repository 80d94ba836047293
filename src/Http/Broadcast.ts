import { compare, type EventId } from "../Cache/EventId.js"
import { passes } from "./Markets.js"

/**
 * One server-sent event as the feed keeps it: its id (the shared feed's id of the update that caused it; none for a
 * `status` or `reset`), a name, the market and symbol it is about (none for a status), a JSON payload, its SSE frame.
 */
export interface FeedEvent {
  readonly id: EventId | undefined
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

export const frameOf = (id: EventId | undefined, event: string, data: string): Uint8Array =>
  encoder.encode(
    id !== undefined ? `id: ${id.text}\nevent: ${event}\ndata: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`
  )

export const join = (frames: ReadonlyArray<Uint8Array>): Uint8Array =>
  frames.length === 1 ? frames[0]! : Buffer.concat(frames)

const wants = (client: Client, e: FeedEvent) =>
  client.wanted === undefined ||
  (e.market === undefined && e.symbol === undefined) ||
  passes(client.wanted, e.market, e.symbol)

const after = (e: FeedEvent, id: EventId) => e.id === undefined || compare(e.id, id) > 0

/** The index of the first event newer than `id` in `events` (ordered by id; the feed keeps only events with ids). */
const firstAfter = (events: ReadonlyArray<FeedEvent>, id: EventId) => {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (after(events[mid]!, id)) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * The feed's state: connected clients, the replay buffer, and the events of the current turn not yet sent. Which
 * resumes it can serve: every event after `floor` is in `recent` (or pending); `newest` is the newest id it has had.
 */
export class Broadcast {
  recent: Array<FeedEvent> = []
  readonly clients = new Set<Client>()
  /** Clients resuming after an id this feed has not passed yet (another instance was ahead): each its id. */
  readonly waiting = new Map<Client, EventId>()
  pending: Array<FeedEvent> = []
  newest: EventId | undefined
  floor: EventId | undefined
  cacheUp = true

  constructor(readonly replaySize: number) {}

  // A batch goes out as one write per client: one syscall and one chunk instead of one per event.
  broadcast(events: ReadonlyArray<FeedEvent>) {
    if (events.length === 0 || this.clients.size + this.waiting.size === 0) return
    let all: Uint8Array | undefined
    for (const client of this.clients) {
      if (client.wanted === undefined) {
        client.write((all ??= join(events.map((e) => e.frame))))
        continue
      }
      const mine = events.filter((e) => wants(client, e))
      if (mine.length > 0) client.write(join(mine.map((e) => e.frame)))
    }
    if (this.waiting.size === 0) return
    let last: EventId | undefined
    for (let i = events.length - 1; i >= 0 && last === undefined; i--) last = events[i]!.id
    for (const [client, id] of this.waiting) {
      const mine = events.filter((e) => after(e, id) && wants(client, e))
      if (mine.length > 0) client.write(join(mine.map((e) => e.frame)))
      if (last !== undefined && compare(last, id) >= 0) {
        this.waiting.delete(client)
        this.clients.add(client)
      }
    }
  }

  // Events made in one turn of the event loop (the cache hands them over in chunks) go out together at its end: one
  // write per client per burst instead of one per event. They join the replay buffer only then, so a client attaching
  // meanwhile gets them once, live.
  readonly flush = () => {
    const events = this.pending
    this.pending = []
    for (const e of events) if (e.id !== undefined) this.recent.push(e)
    if (this.recent.length > this.replaySize * 1.5) {
      const cut = this.recent.length - this.replaySize
      this.floor = this.recent[cut - 1]!.id
      this.recent = this.recent.slice(cut)
    }
    this.broadcast(events)
  }

  emit(
    id: EventId | undefined,
    event: FeedEvent["event"],
    market: string | undefined,
    symbol: string | undefined,
    data: string
  ) {
    if (this.pending.length === 0) setImmediate(this.flush)
    this.pending.push({ id, event, market, symbol, data, frame: frameOf(id, event, data) })
  }

  /**
   * What a client resuming after `lastEventId` is owed, if this feed has had that id: the events it missed, from the
   * buffer; or, when some of them are no longer there, one `reset` (no id, so a reconnect before the next event resets
   * again) telling it to reload, then only live events. "ahead": an id newer than any this feed has had.
   */
  resume(client: Client, lastEventId: EventId | undefined): Array<Uint8Array> | "ahead" {
    if (lastEventId === undefined) return []
    if (this.newest === undefined || compare(lastEventId, this.newest) > 0) return "ahead"
    if (this.floor === undefined || compare(lastEventId, this.floor) < 0) return [this.reset("replay-buffer")]
    return this.recent
      .slice(firstAfter(this.recent, lastEventId))
      .filter((e) => wants(client, e))
      .map((e) => e.frame)
  }

  /** Adds a client that has what came before `from`: it gets live events after it (all, when undefined). */
  add(client: Client, from: EventId | undefined) {
    const next = this.pending.find((e) => e.id !== undefined)?.id
    if (from !== undefined && next !== undefined && compare(next, from) <= 0) this.waiting.set(client, from)
    else this.clients.add(client)
  }

  /** Adds a client whose id is newer than this feed's newest, but known (another instance was ahead). */
  wait(client: Client, from: EventId) {
    this.waiting.set(client, from)
  }

  remove(client: Client) {
    this.clients.delete(client)
    this.waiting.delete(client)
  }

  reset(reason: "replay-buffer" | "unknown-id") {
    return frameOf(undefined, "reset", JSON.stringify({ reason, oldest: this.recent[0]?.id?.text ?? null }))
  }

  statusData() {
    return JSON.stringify({ cache: this.cacheUp ? "up" : "down" })
  }
}
