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
