import { type Duration, Effect, Either, Stream } from "effect"
import { Bus, type BusError } from "../Bus/Bus.js"
import { decodeRecord, isGap, isKline } from "../Bus/Record.js"
import type { Market } from "../Domain/Market.js"
import type { LastId } from "../Venues/Continuity.js"

/**
 * Where the topic left off, per venue market: the highest trade id among the newest records of each partition (a
 * gap record counts with its `toId`: those ids were given up on already). Passed to the venue sources as `lastIds`,
 * so a restarted producer fills from REST the trades it missed while it was down instead of starting from the live
 * edge. Read with a throw-away consumer group that commits nothing; on timeout, what was found so far.
 */
export interface ResumeOptions {
  readonly topic: string
  readonly markets: ReadonlyArray<Market>
  /** Records read from the end of each partition (default 50,000). */
  readonly perPartition?: number
  /** The scan gives up after this and goes on with what it found. */
  readonly timeout: Duration.DurationInput
}

export const lastIdsOnTopic = (options: ResumeOptions): Effect.Effect<ReadonlyMap<Market, LastId>, BusError, Bus> =>
  Effect.gen(function* () {
    const wanted = new Set<string>(options.markets)
    const found = new Map<Market, LastId>()
    if (wanted.size === 0) return found
    const bus = yield* Bus
    const ends = yield* bus.endOffsets(options.topic)
    const perPartition = options.perPartition ?? 50_000
    const starts = new Map([...ends].map(([p, end]) => [p, Math.max(0, end - perPartition)] as const))
    const next = new Map<number, number>()
    const pending = () => [...ends].some(([p, end]) => (next.get(p) ?? starts.get(p) ?? 0) < end)
    if (!pending()) return found
    const keep = (market: Market, last: LastId) => {
      const seen = found.get(market)
      if (seen === undefined || last.id > seen.id) found.set(market, last)
    }
    const scan = bus
      .consume({
        topic: options.topic,
        groupId: `${options.topic}.producer-resume-${Date.now()}-${process.pid}`,
        onAssign: (parts) => Effect.succeed(new Map(parts.map((p) => [p, starts.get(p) ?? 0] as const)))
      })
      .pipe(
        Stream.runForEachWhile((event) =>
          Effect.sync(() => {
            if (event._tag !== "Records") return pending()
            for (const record of event.records) {
              next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1))
              if (record.key === null || !wanted.has(record.key)) continue
              const decoded = decodeRecord(record.value)
              if (Either.isLeft(decoded)) continue
              const r = decoded.right
              if (isGap(r)) keep(r.market, { id: r.toId, time: r.toTime })
              else if (isKline(r))
                continue // a venue's candle: no trade id of its own
              else if (r.market !== undefined && r.tradeId !== undefined)
                keep(r.market, { id: r.tradeId, time: r.eventTime })
            }
            return pending()
          })
        )
      )
    const complete = yield* Effect.timeout(scan, options.timeout).pipe(
      Effect.as(true),
      Effect.catchTag("TimeoutException", () => Effect.succeed(false))
    )
    if (!complete) yield* Effect.logWarning(`producer: the topic scan timed out; resuming ${found.size} markets of it`)
    return found
  })
