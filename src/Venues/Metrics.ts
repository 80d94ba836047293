import { Metric } from "effect"

/** What the venue sources count (the names are public: /metrics). Each is tagged `venue`. */

// ---- The connection layer (Connection.ts) --------------------------------------------------------------------------

export const connectionMetrics = {
  connections: Metric.counter("venue_connections_total", {
    description: "WebSocket connections to a venue that opened (tag venue)",
    incremental: true
  }),
  reconnects: Metric.counter("venue_reconnects_total", {
    description: "Connection attempts to a venue after a connection closed or failed (tag venue)",
    incremental: true
  }),
  frames: Metric.counter("venue_frames_total", {
    description: "Text frames received from a venue, of every kind (tag venue)",
    incremental: true
  }),
  connected: Metric.gauge("venue_connected", {
    description: "WebSocket connections to a venue open now (tag venue)"
  }),
  paused: Metric.counter("venue_reads_paused_total", {
    description: "Times a venue socket stopped being read because its consumer was behind (tag venue)",
    incremental: true
  })
}

export const connectionsCounter = (venue: string) => Metric.tagged(connectionMetrics.connections, "venue", venue)
export const reconnectsCounter = (venue: string) => Metric.tagged(connectionMetrics.reconnects, "venue", venue)
export const framesCounter = (venue: string) => Metric.tagged(connectionMetrics.frames, "venue", venue)
export const connectedGauge = (venue: string) => Metric.tagged(connectionMetrics.connected, "venue", venue)
export const pausedCounter = (venue: string) => Metric.tagged(connectionMetrics.paused, "venue", venue)

// ---- End of the connection layer's block ---------------------------------------------------------------------------

// ---- Continuity, gap-fill and REST (GapFill.ts, Rest.ts, Pipeline.ts) -------------------------------------------------

/** What the venue sources count once frames are read (the names are public: /metrics). */
export const fillMetrics = {
  trades: Metric.counter("venue_trades_total", {
    description: "Trades emitted by the venue sources, live and filled from REST (tags venue, market)",
    incremental: true
  }),
  klines: Metric.counter("venue_klines_total", {
    description:
      "Closed klines (the venue's own 1m candles) received, emitted in the market's order (tags venue, market)",
    incremental: true
  }),
  gapsFound: Metric.counter("venue_gaps_found_total", {
    description: "Jumps in a market's trade ids (missing ids seen), before any fill (tag venue)",
    incremental: true
  }),
  filled: Metric.counter("venue_trades_filled_total", {
    description: "Trades fetched from a venue's REST API to fill a jump (tag venue)",
    incremental: true
  }),
  unfilled: Metric.counter("venue_gaps_unfilled_total", {
    description: "Gap records emitted: ids REST could not give back (tags venue, reason)",
    incremental: true
  }),
  duplicates: Metric.counter("venue_trades_duplicate_total", {
    description: "Trades dropped as already delivered: a reconnect's overlap, resent frames (tag venue)",
    incremental: true
  }),
  framesSkipped: Metric.counter("venue_frames_skipped_total", {
    description: "Frames not read: unknown kinds, malformed, trades of markets not subscribed (tags venue, kind)",
    incremental: true
  }),
  restCalls: Metric.counter("venue_rest_calls_total", {
    description: "REST requests to a venue by answer status (tags venue, status; 0 = no answer)",
    incremental: true
  }),
  restRateLimited: Metric.counter("venue_rest_rate_limited_total", {
    description: "REST answers refusing for the rate limit: 429, Binance's 418, Kraken's EAPI:Rate limit (tag venue)",
    incremental: true
  }),
  lastTradeTime: Metric.gauge("venue_last_trade_time_seconds", {
    description: "Event time of the last trade emitted for a market, Unix seconds (tags venue, market)"
  })
}

// ---- End of the gap-fill block ---------------------------------------------------------------------------------------
