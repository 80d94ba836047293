import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import type { Tick } from "../../src/Domain/Tick.js"
import * as Simulator from "../../src/Sources/Simulator.js"

// The simulator's day of history (issue 18, item 2): published first, oldest first, one tick per coin every `spacing`
// from `span` before the start up to the start, then the live ticks go on from where the history's prices ended.

const T = Date.UTC(2026, 0, 1, 12)
const coins = ["bitcoin", "ethereum", "tether"]
const hour = 3_600_000
const spacing = 60_000

const take = (n: number, history?: Simulator.SimulatorOptions["history"]) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(T)
    const fiber = yield* Simulator.stream({ coins, rate: 1, seed: 7, ...(history ? { history } : {}) }).pipe(
      Stream.take(n),
      Stream.runCollect,
      Effect.fork
    )
    yield* TestClock.adjust("10 seconds")
    return Chunk.toArray(yield* Fiber.join(fiber)) as Array<Tick>
  })

describe("simulator history", () => {
  it.effect("publishes the span before the start, oldest first, each coin every spacing, then goes live", () =>
    Effect.gen(function* () {
      const steps = (2 * hour) / spacing
      const ticks = yield* take(steps * coins.length + coins.length * 3, { spanMs: 2 * hour, spacingMs: spacing })
      const history = ticks.slice(0, steps * coins.length)
      const live = ticks.slice(steps * coins.length)
      for (let i = 1; i < history.length; i++)
        expect(history[i]!.eventTime).toBeGreaterThanOrEqual(history[i - 1]!.eventTime)
      for (const id of coins) {
        const times = history.filter((t) => t.coinId === id).map((t) => t.eventTime)
        expect(times).toEqual(Array.from({ length: steps }, (_, k) => T - 2 * hour + k * spacing))
      }
      expect(history.every((t) => t.price > 0 && t.source === "simulator" && t.ingestTime === T)).toBe(true)
      expect(
        live.every((t) => t.eventTime >= T),
        "live ticks are at the clock"
      ).toBe(true)
      // The live walk goes on from the history's last price: the first live step is one small step away.
      for (const id of coins) {
        const last = history.filter((t) => t.coinId === id).at(-1)!
        const next = live.find((t) => t.coinId === id)!
        expect(Math.abs(Math.log(next.price / last.price))).toBeLessThan(0.05)
      }
    })
  )

  it.effect("without history the first ticks are live", () =>
    Effect.gen(function* () {
      const ticks = yield* take(coins.length * 2)
      expect(ticks.every((t) => t.eventTime >= T)).toBe(true)
    })
  )
})
