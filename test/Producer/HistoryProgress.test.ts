import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Logger, Metric, Stream } from "effect"
import { ticksProcessed } from "../../src/Processor/Metrics.js"
import * as HistoryProgress from "../../src/Producer/HistoryProgress.js"
import * as Simulator from "../../src/Sources/Simulator.js"

// The history's progress: a log line every 10 % published, and the state /ready carries until the processor has taken
// it all (ticks_processed_total, the processor's own counter, grown here as the processor grows it).
const processes = (n: number) => Metric.incrementBy(ticksProcessed, n)

const capture = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message }) => {
    lines.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("HistoryProgress", () => {
  it.effect("logs every 10 % published, and is there until every tick is processed", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      yield* processes(5) // before the history: not its ticks
      yield* HistoryProgress.start(28_800, "a test")
      expect(yield* HistoryProgress.get).toEqual({ published: 0, processed: 0, total: 28_800 })
      for (let i = 0; i < 2_880; i++) yield* HistoryProgress.advance(10) // 28,800 in steps of 10
      expect(yield* HistoryProgress.get).toEqual({ published: 28_800, processed: 0, total: 28_800 })
      yield* processes(12_000)
      expect(yield* HistoryProgress.get).toEqual({ published: 28_800, processed: 12_000, total: 28_800 })
      yield* processes(16_800)
      expect(yield* HistoryProgress.get).toBeUndefined()
      expect(lines[0]).toBe("history: a test: 28,800 ticks to publish before going live")
      expect(lines.slice(1)).toEqual([
        ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map(
          (k) => `history: ${(k * 2_880).toLocaleString("en-US")} of 28,800 ticks published (${k * 10}%)`
        ),
        "history: 28,800 of 28,800 ticks published, done"
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("shows a part-way state between the steps", () =>
    Effect.gen(function* () {
      yield* HistoryProgress.start(1000, "a test")
      yield* HistoryProgress.advance(420)
      yield* processes(300)
      expect(yield* HistoryProgress.get).toEqual({ published: 420, processed: 300, total: 1000 })
      yield* HistoryProgress.advance(5000) // never past the total
      yield* processes(5000) // nor processed past it (live ticks follow)
      expect(yield* HistoryProgress.get).toBeUndefined()
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))
  )

  it.effect("the simulator counts its history's ticks as it hands them on", () =>
    Effect.gen(function* () {
      const history = { spanMs: 600_000, spacingMs: 30_000 } // 20 steps
      const seen: Array<number | undefined> = []
      const ticks = Simulator.stream({ coins: ["bitcoin", "ethereum"], rate: 1, seed: 7, history }).pipe(
        Stream.tap(() => Effect.map(HistoryProgress.get, (p) => seen.push(p?.published))),
        Stream.take(40),
        Stream.runCollect
      )
      const got = yield* ticks
      expect(Chunk.size(got)).toBe(40)
      // Each step's two ticks are counted before they are handed on.
      expect(seen.slice(0, 4)).toEqual([2, 2, 4, 4])
      expect(seen.at(-1)).toBe(40)
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))
  )
})
