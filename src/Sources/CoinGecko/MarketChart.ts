import { Either, Predicate } from "effect"
import type { Source, Tick } from "../../Domain/Tick.js"
import { describeParseError, shorten } from "../../Text.js"
import { decodeTickFields } from "../Source.js"

/** Who the ticks of a market_chart answer are for and how they are labelled. */
export interface ChartLabel {
  readonly coinId: string
  readonly symbol: string
  readonly source: Source
  readonly ingestTime: number
}

/** The ticks of an answer in recorded order, and each price point that gave none (`prices[i]`, why). */
export interface ChartTicks {
  readonly ticks: ReadonlyArray<Tick>
  readonly bad: ReadonlyArray<readonly [string, string]>
}

/** One series of an answer (`market_caps`, `total_volumes`) by time; points that are not [ms, number] are left out. */
const series = (chart: Record<string, unknown>, name: string): ReadonlyMap<number, number> => {
  const byTime = new Map<number, number>()
  const points = chart[name]
  if (Array.isArray(points)) {
    for (const p of points) {
      if (Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number") byTime.set(p[0], p[1])
    }
  }
  return byTime
}

/**
 * A /coins/{id}/market_chart answer (`{prices: [[ms, price]…], market_caps, total_volumes}`, or that under `data`)
 * → ticks: price, event time the point's own time, market cap and 24 h volume joined on the timestamp where given.
 */
export const marketChartTicks = (json: unknown, label: ChartLabel): Either.Either<ChartTicks, string> => {
  const chart =
    Predicate.isRecord(json) && !Array.isArray(json["prices"]) && Predicate.isRecord(json["data"]) ? json["data"] : json
  if (!Predicate.isRecord(chart) || !Array.isArray(chart["prices"])) {
    return Either.left(
      'not a market_chart answer: expected {"prices": [[ms, price], …], "market_caps": …, "total_volumes": …}'
    )
  }
  const caps = series(chart, "market_caps")
  const volumes = series(chart, "total_volumes")
  const ticks: Array<Tick> = []
  const bad: Array<readonly [string, string]> = []
  chart["prices"].forEach((point: unknown, i) => {
    if (!Array.isArray(point) || point.length < 2 || typeof point[0] !== "number") {
      bad.push([`prices[${i}]`, `expected [ms, price], got ${shorten(JSON.stringify(point) ?? String(point), 60)}`])
      return
    }
    const time = point[0]
    const cap = caps.get(time)
    const volume = volumes.get(time)
    const tick = decodeTickFields({
      symbol: label.symbol,
      coinId: label.coinId,
      price: point[1],
      ...(volume !== undefined && volume >= 0 ? { volume24h: volume } : {}),
      ...(cap !== undefined && cap >= 0 ? { marketCap: cap } : {}),
      eventTime: Math.round(time),
      source: label.source,
      ingestTime: label.ingestTime
    })
    if (Either.isRight(tick)) ticks.push(tick.right)
    else bad.push([`prices[${i}]`, describeParseError(tick.left, 240)])
  })
  return Either.right({ ticks, bad })
}
