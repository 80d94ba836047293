import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import type { Market } from "../../src/Domain/Market.js"
import * as F from "./FakeVenue/Formats.js"
import { type RestLimit, type RestLog, restHandler } from "./FakeVenue/Rest.js"

export type { FakeTrade, FakeVenueName } from "./FakeVenue/Formats.js"
export type { RestLimit } from "./FakeVenue/Rest.js"

/**
 * A venue of our own on loopback: a WebSocket server and the REST trade-history endpoint of Binance, Coinbase or
 * Kraken, in that venue's formats. Tests script it: trades with consecutive ids, gaps REST can fill and gaps it
 * cannot, duplicates, disconnects, heartbeats, pings, raw frames and rate limits. `trades(market)` is its truth.
 */
export interface FakeVenueOptions {
  readonly venue: F.FakeVenueName
  readonly markets: ReadonlyArray<Market>
  /** The first trade id of every market (default 1000). */
  readonly firstId?: number
  /** The first trade's time, epoch ms (default 2024-01-01T00:00:00Z). */
  readonly startTime?: number
  /** Milliseconds between trades (default 1; 0 puts them all in one millisecond). */
  readonly spacingMs?: number
}

interface Client {
  readonly socket: WebSocket
  readonly path: string
  readonly markets: Set<Market>
  /** Pinged, and no pong since. */
  awaitingPong: boolean
}

interface MarketState {
  nextId: number
  readonly made: Array<F.FakeTrade>
  readonly served: Array<F.FakeTrade>
}

export interface FakeVenue {
  readonly venue: F.FakeVenueName
  /** ws://127.0.0.1:<port>; Binance clients add /ws or /stream?streams=… */
  readonly wsUrl: string
  /** http://127.0.0.1:<port>, the REST base URL. */
  readonly restUrl: string
  /** Every trade REST can serve for the market, in id order: the venue's truth (lost trades are not in it). */
  readonly trades: (market: Market) => ReadonlyArray<F.FakeTrade>
  /** Every REST request: path with query, and the status answered. */
  readonly requests: ReadonlyArray<{ readonly url: string; readonly status: number }>
  /** Every text frame clients sent, in order. */
  readonly received: ReadonlyArray<string>
  /** The payloads of the pongs clients answered pings with. */
  readonly pongs: ReadonlyArray<string>
  readonly connections: () => number
  /** Resolves once `n` clients are connected and subscribed to something. */
  readonly subscribed: (n?: number) => Promise<void>
  /** Makes `n` trades and sends them to the market's subscribers. */
  readonly send: (market: Market, n?: number) => ReadonlyArray<F.FakeTrade>
  /** Makes `n` trades that never go over the WebSocket; REST serves them (a fillable gap). */
  readonly gap: (market: Market, n?: number) => ReadonlyArray<F.FakeTrade>
  /** Skips `n` ids: neither the WebSocket nor REST ever has them (a gap no one can fill). */
  readonly lose: (market: Market, n?: number) => void
  /** Sends the last `n` trade frames again. */
  readonly duplicate: (n?: number) => void
  /** Sends the last `n` trade frames again in reverse order. */
  readonly reorder: (n: number) => void
  /** Sends the venue's heartbeat (Coinbase: per subscribed market; Binance has none and sends a ping instead). */
  readonly heartbeat: () => void
  /** A WebSocket ping with this payload to every client; their pongs land in `pongs`. */
  readonly ping: (payload?: string) => void
  /** Drops every client that has not answered the last ping, as Binance does (after a minute). */
  readonly dropUnanswered: () => number
  /** Holds every frame back (a stalled connection, for stale timers) until `resume`, which sends them in order. */
  readonly stall: () => void
  readonly resume: () => void
  /** Resolves once clients have sent `n` text frames in all. */
  readonly receivedCount: (n: number) => Promise<void>
  /** Sends any text (bad frames, unknown kinds) to every client. */
  readonly raw: (text: string) => void
  /** Binance's serverShutdown event. */
  readonly shutdown: () => void
  /** Drops every connection: abruptly (default), or with a close frame. */
  readonly disconnect: (how?: { readonly code: number; readonly reason?: string }) => void
  /** The next REST requests are refused with this status and Retry-After. */
  readonly rateLimit: (limit: RestLimit) => void
  readonly close: () => Promise<void>
}

const sendNow = (client: Client, frame: string) => {
  if (client.socket.readyState === WebSocket.OPEN) client.socket.send(frame)
}

/** Resolves when `done()` holds, checked now and after every event the venue sees. */
const until = (waiters: Array<() => void>, done: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (done() ? resolve() : waiters.push(check))
    check()
  })

class Fake implements FakeVenue {
  wsUrl = ""
  restUrl = ""
  readonly requests: Array<RestLog> = []
  readonly received: Array<string> = []
  readonly pongs: Array<string> = []
  private readonly clients = new Set<Client>()
  private readonly state: Map<Market, MarketState>
  private readonly sentFrames: Array<{ market: Market; frame: (c: Client) => string }> = []
  private readonly limits: Array<RestLimit> = []
  private readonly waiters: Array<() => void> = []
  private held: Array<[Client, string]> | undefined
  private clock: number
  private sequence = 1
  private readonly firstId: number
  readonly venue: F.FakeVenueName
  readonly book: F.Book
  readonly server: Http.Server
  private readonly wss: WebSocketServer

  constructor(private readonly options: FakeVenueOptions) {
    this.venue = options.venue
    this.firstId = options.firstId ?? 1000
    this.clock = options.startTime ?? Date.UTC(2024, 0, 1)
    this.state = new Map(options.markets.map((m) => [m, { nextId: this.firstId, made: [], served: [] }]))
    this.book = {
      markets: options.markets,
      trades: (m) => this.stateOf(m).served,
      lastId: (m) => (this.stateOf(m).nextId > this.firstId ? this.stateOf(m).nextId - 1 : undefined)
    }
    this.server = Http.createServer(restHandler(this.venue, this.book, this.limits, this.requests))
    this.wss = new WebSocketServer({ server: this.server })
    this.wss.on("connection", (socket, req) => this.onConnection(socket, req.url ?? "/"))
  }

  private stateOf(market: Market): MarketState {
    const s = this.state.get(market)
    if (s === undefined) throw new Error(`the fake ${this.venue} venue has no market ${market}`)
    return s
  }

  private make(market: Market, n: number): Array<F.FakeTrade> {
    const s = this.stateOf(market)
    const made = Array.from({ length: n }, (): F.FakeTrade => {
      const id = s.nextId++
      this.clock += this.options.spacingMs ?? 1
      const price = (100 + (id % 97) / 8).toFixed(3)
      const size = `0.${String((id * 7919) % 100000).padStart(5, "0")}1`
      const symbol = F.venueSymbolOf(this.venue, market)
      return { market, symbol, tradeId: id, price, size, side: id % 3 === 0 ? "sell" : "buy", time: this.clock }
    })
    s.made.push(...made)
    s.served.push(...made)
    return made
  }

  private deliver(client: Client, frame: string) {
    if (this.held === undefined) sendNow(client, frame)
    else this.held.push([client, frame])
  }

  private frameOf = (t: F.FakeTrade) => (c: Client) =>
    this.venue === "binance"
      ? F.binanceTrade(t, c.path.startsWith("/stream"))
      : this.venue === "coinbase"
        ? F.coinbaseTrade(t, (this.sequence += 3))
        : F.krakenTrades([t], false)

  private push(market: Market, frame: (c: Client) => string, remember = true) {
    if (remember) this.sentFrames.push({ market, frame })
    for (const c of this.clients) if (c.markets.has(market)) this.deliver(c, frame(c))
  }

  private notify() {
    for (const w of this.waiters.splice(0)) w()
  }

  private onMessage(client: Client, text: string) {
    this.received.push(text)
    const reply =
      this.venue === "binance"
        ? F.binanceReply(text, this.book)
        : this.venue === "coinbase"
          ? F.coinbaseReply(text, this.book)
          : F.krakenReply(text, this.book, this.clock)
    for (const frame of reply.frames) this.deliver(client, frame)
    for (const m of reply.subscribe) {
      client.markets.add(m)
      if (reply.snapshot) this.deliver(client, F.krakenTrades(this.stateOf(m).made.slice(-50), true))
    }
    this.notify()
  }

  private onConnection(socket: WebSocket, path: string) {
    const client: Client = { socket, path, markets: new Set(), awaitingPong: false }
    if (this.venue === "binance") {
      // Binance subscribes by URL too: /ws/<stream> or /stream?streams=<a>/<b>.
      const streams = new URL(path, "http://fake").searchParams.get("streams")?.split("/") ?? []
      if (path.startsWith("/ws/")) streams.push(decodeURIComponent(path.slice(4)))
      for (const m of this.options.markets) if (streams.includes(F.binanceStreamName(m))) client.markets.add(m)
    }
    this.clients.add(client)
    socket.on("message", (data) => this.onMessage(client, data.toString()))
    socket.on("pong", (data) => {
      client.awaitingPong = false
      this.pongs.push(data.toString())
    })
    socket.on("close", () => this.clients.delete(client))
    if (this.venue === "kraken") this.deliver(client, F.krakenStatus)
    this.notify()
  }

  trades = (m: Market) => [...this.stateOf(m).served]
  connections = () => this.clients.size
  subscribed = (n = 1) => until(this.waiters, () => [...this.clients].filter((c) => c.markets.size > 0).length >= n)
  receivedCount = (n: number) => until(this.waiters, () => this.received.length >= n)
  send = (market: Market, n = 1) => {
    const made = this.make(market, n)
    for (const t of made) this.push(market, this.frameOf(t))
    return made
  }
  gap = (market: Market, n = 1) => this.make(market, n)
  lose = (market: Market, n = 1) => {
    this.stateOf(market).nextId += n
  }
  duplicate = (n = 1) => {
    for (const { market, frame } of this.sentFrames.slice(-n)) this.push(market, frame, false)
  }
  reorder = (n: number) => {
    for (const { market, frame } of this.sentFrames.slice(-n).reverse()) this.push(market, frame, false)
  }
  heartbeat = () => {
    if (this.venue === "binance") for (const c of this.clients) c.socket.ping()
    else if (this.venue === "kraken")
      for (const c of this.clients) this.deliver(c, JSON.stringify({ channel: "heartbeat" }))
    else
      for (const m of this.options.markets)
        this.push(m, () => F.coinbaseHeartbeat(m, this.book, (this.sequence += 1), this.clock), false)
  }
  ping = (payload = "") => {
    for (const c of this.clients) {
      c.awaitingPong = true
      c.socket.ping(payload)
    }
  }
  dropUnanswered = () => {
    const silent = [...this.clients].filter((c) => c.awaitingPong)
    for (const c of silent) c.socket.terminate()
    return silent.length
  }
  stall = () => {
    this.held ??= []
  }
  resume = () => {
    const frames = this.held ?? []
    this.held = undefined
    for (const [c, frame] of frames) sendNow(c, frame)
  }
  raw = (text: string) => {
    for (const c of this.clients) this.deliver(c, text)
  }
  shutdown = () => {
    for (const c of this.clients) this.deliver(c, JSON.stringify({ e: "serverShutdown", E: this.clock }))
  }
  disconnect = (how?: { readonly code: number; readonly reason?: string }) => {
    for (const c of this.clients) how === undefined ? c.socket.terminate() : c.socket.close(how.code, how.reason)
  }
  rateLimit = (limit: RestLimit) => {
    this.limits.push(limit)
  }
  close = async () => {
    for (const c of this.clients) c.socket.terminate()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())))
  }
}

/** Starts a fake venue on 127.0.0.1 (a free port); `close` stops it. */
export const startFakeVenue = async (options: FakeVenueOptions): Promise<FakeVenue> => {
  const fake = new Fake(options)
  await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve))
  const { port } = fake.server.address() as AddressInfo
  fake.wsUrl = `ws://127.0.0.1:${port}`
  fake.restUrl = `http://127.0.0.1:${port}`
  return fake
}
