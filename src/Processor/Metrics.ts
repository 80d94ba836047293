import { Metric, MetricBoundaries } from "effect"

export const ticksProcessed = Metric.counter("ticks_processed_total", {
  description: "Ticks accepted by the processor",
  incremental: true
})
export const ticksDeduped = Metric.counter("ticks_deduped_total", {
  description: "Duplicate ticks dropped",
  incremental: true
})
export const ticksLate = Metric.counter("ticks_late_total", {
  description: "Ticks behind the watermark, sent to the DLQ",
  incremental: true
})
export const recordsDlq = Metric.counter("dlq_records_total", {
  description: "Records sent to the dead-letter topic",
  incremental: true
})
export const checkpoints = Metric.counter("checkpoints_total", {
  description: "Checkpoint transactions committed",
  incremental: true
})
export const checkpointSeconds = Metric.histogram(
  "checkpoint_duration_seconds",
  MetricBoundaries.exponential({ start: 0.002, factor: 2, count: 14 }),
  "Time to commit one checkpoint transaction"
)
export const consumerLag = Metric.gauge("consumer_lag_records", {
  description: "Records in the log not yet checkpointed, per partition"
})
export const pendingGauge = Metric.gauge("processor_pending_ticks", {
  description: "Processed ticks waiting for a checkpoint"
})
export const fencedOut = Metric.counter("checkpoints_fenced_total", {
  description: "Checkpoints refused because a newer owner holds the partition",
  incremental: true
})

/** Gap records stored, per market (tagged `market`): trade ids a venue source could not deliver. */
export const gapsTotal = Metric.counter("gaps_total", {
  description: "Gaps (trade ids a venue source could not deliver) stored, per market",
  incremental: true
})

/** Our final 1m candles checked against the venue's own (tagged `result`: match, mismatch, gap, missing), once committed. */
export const candleChecksTotal = Metric.counter("candle_checks_total", {
  description: "Final 1m candles checked against the venue's own klines, by result (match, mismatch, gap, missing)",
  incremental: true
})

export const cacheUpdatesDropped = Metric.counter("cache_updates_dropped_total", {
  description: "Live updates that never reached the cache: its writer fell too far behind, or the write failed",
  incremental: true
})
