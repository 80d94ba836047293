import { Schema } from "effect"

/** Candle intervals, shortest first. */
export const intervals = ["1m", "5m", "15m", "1h", "1d"] as const

export const Interval = Schema.Literal(...intervals).annotations({
  identifier: "Interval",
  description: "Candle interval: 1m, 5m, 15m, 1h or 1d"
})
export type Interval = typeof Interval.Type

const minute = 60_000

export const intervalMillis: Record<Interval, number> = {
  "1m": minute,
  "5m": 5 * minute,
  "15m": 15 * minute,
  "1h": 60 * minute,
  "1d": 24 * 60 * minute
}

/** Start (epoch ms, UTC) of the bucket of `interval` that holds `time`. */
export const bucketStart = (interval: Interval, time: number): number => {
  const size = intervalMillis[interval]
  return Math.floor(time / size) * size
}
