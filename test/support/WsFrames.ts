import { Effect, Stream } from "effect"
import { WebSocket } from "ws"
import { binanceStream, coinbaseProduct, krakenSymbol, type Market, marketParts } from "../../src/Domain/Market.js"
import type { FrameInput } from "../../src/Venues/Pipeline.js"
import type { TradeVenue } from "../../src/Venues/Rest.js"

/**
 * A plain WebSocket client for the venue-fill tests: connects to a fake venue, subscribes the venue's way, and
 * reconnects whenever the connection drops, as Connection.ts does (without its backoff, pings and stale timer).
 */

/** A market's aggTrade and kline_1m, as Protocol.ts subscribes them. */
const binanceStreams = (m: Market) => {
  const name = binanceStream(marketParts(m))
  return [`${name}@aggTrade`, `${name}@kline_1m`]
}

const subscribeUrl = (venue: TradeVenue, wsUrl: string, markets: ReadonlyArray<Market>) =>
  venue === "binance" ? `${wsUrl}/stream?streams=${markets.flatMap(binanceStreams).join("/")}` : wsUrl

const subscribeMessage = (venue: TradeVenue, markets: ReadonlyArray<Market>): string | undefined =>
  venue === "coinbase"
    ? JSON.stringify({
        type: "subscribe",
        product_ids: markets.map((m) => coinbaseProduct(marketParts(m))),
        channels: ["matches", "heartbeat"]
      })
    : venue === "kraken"
      ? JSON.stringify({
          method: "subscribe",
          params: { channel: "trade", symbol: markets.map((m) => krakenSymbol(marketParts(m))), snapshot: true }
        })
      : undefined

export const wsFrames = (
  venue: TradeVenue,
  wsUrl: string,
  markets: ReadonlyArray<Market>,
  clock: () => number = Date.now
): Stream.Stream<FrameInput> =>
  Stream.async<FrameInput>((emit) => {
    let stopped = false
    let socket: WebSocket | undefined
    const connect = () => {
      if (stopped) return
      const s = new WebSocket(subscribeUrl(venue, wsUrl, markets))
      socket = s
      s.on("open", () => {
        void emit.single({ _tag: "Open", at: clock() })
        const message = subscribeMessage(venue, markets)
        if (message !== undefined) s.send(message)
      })
      s.on("message", (data) => void emit.single({ _tag: "Frame", at: clock(), text: data.toString() }))
      s.on("error", () => undefined)
      s.on("close", (code) => {
        void emit.single({ _tag: "Closed", at: clock(), reason: `code ${code}` })
        setTimeout(connect, 5)
      })
    }
    connect()
    return Effect.sync(() => {
      stopped = true
      socket?.terminate()
    })
  })
