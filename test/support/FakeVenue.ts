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

/** Starts a fake venue on 127.0.0.1 (a free port); `close` stops it. */
export const startFakeVenue = async (options: FakeVenueOptions): Promise<FakeVenue> => {
  const { venue, markets } = options
  const spacing = options.spacingMs ?? 1
  let clock = options.startTime ?? Date.UTC(2024, 0, 1)
  let sequence = 1
  const state = new Map<Market, MarketState>(
    markets.map((m) => [m, { nextId: options.firstId ?? 1000, made: [], served: [] }])
  )
  const clients = new Set<Client>()
  const requests: Array<RestLog> = []
  const received: Array<string> = []
  const pongs: Array<string> = []
  const sentFrames: Array<{ market: Market; frame: (c: Client) => string }> = []
  const limits: Array<RestLimit> = []
  const waiters: Array<() => void> = []
  let held: Array<[Client, string]> | undefined
  const send = (client: Client, frame: string) =>
    held === undefined ? sendNow(client, frame) : held.push([client, frame])

  const stateOf = (market: Market): MarketState => {
    const s = state.get(market)
    if (s === undefined) throw new Error(`the fake ${venue} venue has no market ${market}`)
    return s
  }
  const book: F.Book = {
    markets,
    trades: (m) => stateOf(m).served,
    lastId: (m) => {
      const s = stateOf(m)
      return s.nextId > (options.firstId ?? 1000) ? s.nextId - 1 : undefined
    }
  }
  const make = (market: Market, n: number): Array<F.FakeTrade> => {
    const s = stateOf(market)
    const made = Array.from({ length: n }, () => {
      const id = s.nextId++
      clock += spacing
      const price = (100 + (id % 97) / 8).toFixed(3)
      const size = `0.${String((id * 7919) % 100000).padStart(5, "0")}1`
      return {
        market,
        symbol: F.venueSymbolOf(venue, market),
        tradeId: id,
        price,
        size,
        side: id % 3 === 0 ? "sell" : "buy",
        time: clock
      } as const
    })
    s.made.push(...made)
    s.served.push(...made)
    return made
  }
  const frameOf = (t: F.FakeTrade) => (c: Client) =>
    venue === "binance"
      ? F.binanceTrade(t, c.path.startsWith("/stream"))
      : venue === "coinbase"
        ? F.coinbaseTrade(t, (sequence += 3))
        : F.krakenTrades([t], false)
  const push = (market: Market, frame: (c: Client) => string, remember = true) => {
    if (remember) sentFrames.push({ market, frame })
    for (const c of clients) if (c.markets.has(market)) send(c, frame(c))
  }
  const notify = () => {
    for (const w of waiters.splice(0)) w()
  }
  const subscribedCount = () => [...clients].filter((c) => c.markets.size > 0).length

  const onMessage = (client: Client, text: string) => {
    received.push(text)
    const reply =
      venue === "binance"
        ? F.binanceReply(text, book)
        : venue === "coinbase"
          ? F.coinbaseReply(text, book)
          : F.krakenReply(text, book, clock)
    for (const frame of reply.frames) send(client, frame)
    for (const m of reply.subscribe) {
      client.markets.add(m)
      if (reply.snapshot) send(client, F.krakenTrades(stateOf(m).made.slice(-50), true))
    }
    notify()
  }

  const server = Http.createServer(restHandler(venue, book, limits, requests))
  const wss = new WebSocketServer({ server })
  wss.on("connection", (socket, req) => {
    const path = req.url ?? "/"
    const streams = new URL(path, "http://fake").searchParams.get("streams")?.split("/") ?? []
    const raw = path.startsWith("/ws/") ? [decodeURIComponent(path.slice(4))] : []
    const client: Client = { socket, path, markets: new Set(), awaitingPong: false }
    if (venue === "binance")
      for (const m of markets) if ([...streams, ...raw].includes(F.binanceStreamName(m))) client.markets.add(m)
    clients.add(client)
    socket.on("message", (data) => onMessage(client, data.toString()))
    socket.on("pong", (data) => {
      client.awaitingPong = false
      pongs.push(data.toString())
    })
    socket.on("close", () => clients.delete(client))
    if (venue === "kraken") send(client, F.krakenStatus)
    notify()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  return {
    venue,
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
    trades: (m) => [...stateOf(m).served],
    requests,
    received,
    pongs,
    connections: () => clients.size,
    subscribed: (n = 1) =>
      new Promise<void>((resolve) => {
        const check = () => (subscribedCount() >= n ? resolve() : waiters.push(check))
        check()
      }),
    send: (market, n = 1) => {
      const made = make(market, n)
      for (const t of made) push(market, frameOf(t))
      return made
    },
    gap: (market, n = 1) => make(market, n),
    lose: (market, n = 1) => {
      stateOf(market).nextId += n
    },
    duplicate: (n = 1) => {
      for (const { market, frame } of sentFrames.slice(-n)) push(market, frame, false)
    },
    reorder: (n) => {
      for (const { market, frame } of sentFrames.slice(-n).reverse()) push(market, frame, false)
    },
    heartbeat: () => {
      if (venue === "binance") for (const c of clients) c.socket.ping()
      else if (venue === "kraken") for (const c of clients) send(c, JSON.stringify({ channel: "heartbeat" }))
      else for (const m of markets) push(m, () => F.coinbaseHeartbeat(m, book, (sequence += 1), clock), false)
    },
    ping: (payload = "") => {
      for (const c of clients) {
        c.awaitingPong = true
        c.socket.ping(payload)
      }
    },
    dropUnanswered: () => {
      const silent = [...clients].filter((c) => c.awaitingPong)
      for (const c of silent) c.socket.terminate()
      return silent.length
    },
    stall: () => {
      held ??= []
    },
    resume: () => {
      const frames = held ?? []
      held = undefined
      for (const [c, frame] of frames) sendNow(c, frame)
    },
    receivedCount: (n) =>
      new Promise<void>((resolve) => {
        const check = () => (received.length >= n ? resolve() : waiters.push(check))
        check()
      }),
    raw: (text) => {
      for (const c of clients) send(c, text)
    },
    shutdown: () => {
      for (const c of clients) send(c, JSON.stringify({ e: "serverShutdown", E: clock }))
    },
    disconnect: (how) => {
      for (const c of clients) how === undefined ? c.socket.terminate() : c.socket.close(how.code, how.reason)
    },
    rateLimit: (limit) => {
      limits.push(limit)
    },
    close: async () => {
      for (const c of clients) c.socket.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
    }
  }
}
