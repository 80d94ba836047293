import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import type { Market } from "../../src/Domain/Market.js"
import * as F from "./FakeVenue/Formats.js"
import { type FakeKline, KlineFeed, type KlineField } from "./FakeVenue/Klines.js"
import { type RestLimit, type RestLog, restHandler } from "./FakeVenue/Rest.js"
import type { FakeVenue, FakeVenueOptions } from "./FakeVenue/Types.js"

export type { FakeTrade, FakeVenueName } from "./FakeVenue/Formats.js"
export type { FakeKline, KlineField } from "./FakeVenue/Klines.js"
export type { RestLimit } from "./FakeVenue/Rest.js"
export type { FakeVenue, FakeVenueOptions } from "./FakeVenue/Types.js"

/** The fake venue (FakeVenue/Types.ts says what it does); its formats are in FakeVenue/. */

interface Client {
  readonly socket: WebSocket
  readonly path: string
  readonly markets: Set<Market>
  /** Binance: the markets whose kline_1m it subscribed to. */
  readonly klines: Set<Market>
  /** Pinged, and no pong since. */
  awaitingPong: boolean
}

interface MarketState {
  nextId: number
  readonly made: Array<F.FakeTrade>
  readonly served: Array<F.FakeTrade>
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
  private readonly feed: KlineFeed

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
    this.feed = new KlineFeed((m) => this.stateOf(m).served, this.firstId * 10)
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
    return Array.from({ length: n }, (): F.FakeTrade => {
      const id = s.nextId++
      this.clock += this.options.spacingMs ?? 1
      const price = (100 + (id % 97) / 8).toFixed(3)
      const size = `0.${String((id * 7919) % 100000).padStart(5, "0")}1`
      const symbol = F.venueSymbolOf(this.venue, market)
      // Binance aggregates raw trades (1 to 3 an aggTrade here); the others' trade id is the raw one.
      const [firstRawId, lastRawId] = this.venue === "binance" ? this.feed.rawIds(market, id, this.clock) : [id, id]
      const side = id % 3 === 0 ? "sell" : "buy"
      const t: F.FakeTrade = { market, symbol, tradeId: id, price, size, side, time: this.clock, firstRawId, lastRawId }
      s.made.push(t)
      s.served.push(t)
      return t
    })
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

  /** After a trade `t` is sent: the klines it closes, and now and then the open one, to the kline subscribers. */
  private sendKlines(market: Market, t: F.FakeTrade) {
    const to = [...this.clients].filter((c) => c.klines.has(market) && c.socket.readyState === WebSocket.OPEN)
    if (this.venue !== "binance" || to.length === 0) return
    const frames: Array<readonly [FakeKline, boolean]> = this.feed.due(market, t.time).map((k) => [k, true])
    if (t.tradeId % 7 === 3) frames.push([this.feed.open(market, t.time), false])
    for (const [k, closed] of frames)
      for (const c of to) this.deliver(c, F.binanceKline(k, closed, t.time + 1, c.path.startsWith("/stream")))
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
    for (const m of reply.klines ?? []) client.klines.add(m)
    for (const m of reply.subscribe) {
      client.markets.add(m)
      if (reply.snapshot) this.deliver(client, F.krakenTrades(this.stateOf(m).made.slice(-50), true))
    }
    this.notify()
  }

  private onConnection(socket: WebSocket, path: string) {
    const client: Client = { socket, path, markets: new Set(), klines: new Set(), awaitingPong: false }
    if (this.venue === "binance") {
      // Binance subscribes by URL too: /ws/<stream> or /stream?streams=<a>/<b>.
      const streams = new URL(path, "http://fake").searchParams.get("streams")?.split("/") ?? []
      if (path.startsWith("/ws/")) streams.push(decodeURIComponent(path.slice(4)))
      for (const m of this.options.markets) {
        if (streams.includes(F.binanceStreamName(m))) client.markets.add(m)
        if (streams.includes(F.binanceKlineStreamName(m))) client.klines.add(m)
      }
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
  klines = (m: Market): ReadonlyArray<FakeKline> => this.feed.klines(m)
  corruptKline = (m: Market, bucketStart: number, field: KlineField) => this.feed.corrupt(m, bucketStart, field)
  phantomTrade = (m: Market, bucketStart: number) => this.feed.phantom(m, bucketStart)
  connections = () => this.clients.size
  subscribed = (n = 1) => until(this.waiters, () => [...this.clients].filter((c) => c.markets.size > 0).length >= n)
  receivedCount = (n: number) => until(this.waiters, () => this.received.length >= n)
  send = (market: Market, n = 1) => {
    const made = this.make(market, n)
    for (const t of made) {
      this.push(market, this.frameOf(t))
      this.sendKlines(market, t)
    }
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
