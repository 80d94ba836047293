import { type Duration, Effect, Either, Stream } from "effect"
import { decodeTick, marketOf, type Source } from "../Domain/Tick.js"
import { Bus, type BusError } from "./Bus.js"

/** The newest tick a key (symbol) has on a topic, read from the end of each partition. */

export interface Newest {
  readonly eventTime: number
  readonly source: Source
}

export interface ScanOptions {
  readonly topic: string
  /** The keys (symbols) to look for; records of other keys are only counted. */
  readonly keys: ReadonlySet<string>
  /** Records read from the end of each partition. */
  readonly perPartition: number
  /** The scan gives up after this and returns what it found. */
  readonly timeout: Duration.DurationInput
  /** Names the throw-away consumer group: `{topic}.{purpose}-{time}-{pid}`. */
  readonly purpose: string
}

export interface ScanResult {
  readonly newest: ReadonlyMap<string, Newest>
  readonly records: number
  /** False when the scan timed out before reaching the ends it started with. */
  readonly complete: boolean
}

/**
 * The newest tick of each of `keys` among the last `perPartition` records of each partition of `topic`.
 * Reads with a throw-away consumer group that commits nothing. On timeout it returns what it found so far
 * (`complete: false`).
 */
export const newestPerKey = Effect.fn("TopicScan.newestPerKey")(function* (
  options: ScanOptions
): Effect.fn.Return<ScanResult, BusError, Bus> {
  const { keys, perPartition, topic } = options
  const bus = yield* Bus
  const ends = yield* bus.endOffsets(topic)
  const newest = new Map<string, Newest>()
  const next = new Map<number, number>()
  let records = 0
  const starts = new Map([...ends].map(([p, end]) => [p, Math.max(0, end - perPartition)] as const))
  // Done once every partition has been read up to the end it had when the scan started.
  const pending = () => [...ends].some(([p, end]) => (next.get(p) ?? starts.get(p) ?? 0) < end)
  if (!pending()) return { newest, records, complete: true }
  const scan = bus
    .consume({
      topic,
      groupId: `${topic}.${options.purpose}-${Date.now()}-${process.pid}`,
      onAssign: (parts) => Effect.succeed(new Map(parts.map((p) => [p, starts.get(p) ?? 0] as const)))
    })
    .pipe(
      Stream.runForEachWhile((event) =>
        Effect.sync(() => {
          if (event._tag !== "Records") return pending()
          for (const record of event.records) {
            records += 1
            next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1))
            if (record.key === null) continue
            // Keyed by market since markets (docs/markets.md), by symbol before: either names the tick's symbol.
            if (!keys.has(record.key) && !keys.has(record.key.replace(/^[a-z]+:([A-Z0-9]+)-[A-Z0-9]+$/, "$1"))) continue
            const tick = decodeTick(record.value)
            if (Either.isLeft(tick) || !keys.has(tick.right.symbol)) continue
            if (record.key !== tick.right.symbol && record.key !== marketOf(tick.right)) continue
            const seen = newest.get(tick.right.symbol)
            if (seen === undefined || tick.right.eventTime > seen.eventTime) {
              newest.set(tick.right.symbol, { eventTime: tick.right.eventTime, source: tick.right.source })
            }
          }
          return pending()
        })
      )
    )
  const complete = yield* Effect.timeout(scan, options.timeout).pipe(
    Effect.as(true),
    Effect.catchTag("TimeoutException", () => Effect.succeed(false))
  )
  return { newest, records, complete }
})
