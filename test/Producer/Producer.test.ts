import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Fiber, Logger, Metric, Option, Schedule, Stream, TestClock } from "effect"
import { Bus, BusError, type BusShape } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { ProducerConfig } from "../../src/Config.js"
import { Tick } from "../../src/Domain/Tick.js"
import * as Producer from "../../src/Producer.js"
import { readTicks } from "../support/Topic.js"

// The producer stage on the embedded bus, behind a wrapper that fails every publish while it is "down".

const topic = "prices-test"
const symbols = ["BTC", "ETH", "SOL"] as const
const epoch = Date.UTC(2025, 0, 1)

/** Tick n: symbols in turn, event time rising by one second per tick. */
const tickOf = (n: number) =>
  new Tick({
    symbol: symbols[n % symbols.length]!,
    coinId: symbols[n % symbols.length]!.toLowerCase(),
    price: 100 + n,
    eventTime: epoch + n * 1000,
    source: "simulator",
    ingestTime: epoch + n * 1000
  })

interface Flaky {
  readonly bus: BusShape
  readonly memory: BusShape
  down: boolean
  /** publish calls, and the failed ones. */
  calls: number
  failures: number
}

/** The memory bus with fault injection: while `down`, publish fails and writes nothing. */
const flakyBus = (down: boolean) =>
  Effect.gen(function* () {
    const memory = yield* MemoryBus.make()
    yield* memory.ensureTopic(topic, 3)
    const state: Flaky = {
      memory,
      down,
      calls: 0,
      failures: 0,
      bus: {
        ...memory,
        publish: (t, messages) =>
          Effect.suspend(() => {
            state.calls += 1
            if (state.down) {
              state.failures += 1
              return Effect.fail(new BusError({ reason: "publish", message: "broker unreachable (injected)" }))
            }
            return memory.publish(t, messages)
          })
      }
    }
    return state
  })

const readAll = (bus: BusShape) => readTicks(bus, topic)

const bySymbol = (ticks: ReadonlyArray<Tick>) => {
  const out = new Map<string, Array<number>>()
  for (const t of ticks) out.set(t.symbol, [...(out.get(t.symbol) ?? []), t.eventTime])
  return out
}

const quiet = Logger.remove(Logger.defaultLogger)
const fast = Schedule.spaced("5 millis")
const pause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
/** Waits in real time until `probe` holds: a generous bound for a loaded machine, not a timing assertion. */
const until = (probe: () => boolean, what: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (probe()) return
      yield* pause(5)
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const counter = (m: Metric.Metric.Counter<number>) => Effect.map(Metric.value(m), (s) => s.count)
const gauge = Effect.map(Metric.value(Producer.metrics.buffered), (s) => s.value)

describe("producer stage: bounded buffer and backpressure", () => {
  it.live(
    "bus down, then back: every tick arrives once, in source order per symbol, and the stage resumes by itself",
    () =>
      Effect.gen(function* () {
        const flaky = yield* flakyBus(true)
        const published0 = yield* counter(Producer.metrics.published)
        const errors0 = yield* counter(Producer.metrics.publishErrors)
        const source = Array.from({ length: 300 }, (_, n) => tickOf(n))

        const fiber = yield* Producer.publishStream(Stream.fromIterable(source), {
          topic,
          bufferSize: 1000,
          maxBatch: 40,
          retry: fast
        }).pipe(Effect.provideService(Bus, flaky.bus), Effect.provide(quiet), Effect.fork)
        yield* until(() => flaky.failures >= 3, "failed publishes")
        expect(yield* gauge).toBe(300) // all accepted, none acknowledged
        expect(yield* readAll(flaky.memory)).toEqual([])

        flaky.down = false
        yield* Fiber.join(fiber) // a finite source: done once everything is acknowledged
        const records = yield* readAll(flaky.memory)
        expect(records).toHaveLength(300)
        expect(records.every((r) => r.key === `simulator:${r.tick.symbol}-USD`)).toBe(true)
        expect(bySymbol(records.map((r) => r.tick))).toEqual(bySymbol(source))
        expect(yield* gauge).toBe(0)
        expect((yield* counter(Producer.metrics.published)) - published0).toBe(300)
        expect((yield* counter(Producer.metrics.publishErrors)) - errors0).toBe(flaky.failures)
      })
  )

  it.live(
    "a full buffer stops pulling the source; nothing accepted is dropped; pulling resumes when the bus is back",
    () =>
      Effect.gen(function* () {
        const flaky = yield* flakyBus(true)
        let pulled = 0
        const source = Stream.repeatEffect(Effect.sync(() => tickOf(pulled++))).pipe(Stream.take(400))

        const fiber = yield* Producer.publishStream(source, { topic, bufferSize: 50, maxBatch: 16, retry: fast }).pipe(
          Effect.provideService(Bus, flaky.bus),
          Effect.provide(quiet),
          Effect.fork
        )
        yield* until(() => pulled >= 50, "the buffer to fill")
        yield* pause(150)
        const whileDown = pulled
        // 50 accepted, plus at most the one tick already pulled and waiting for room.
        expect(whileDown).toBeGreaterThanOrEqual(50)
        expect(whileDown).toBeLessThanOrEqual(51)
        expect(yield* gauge).toBe(50)
        const failures = flaky.failures
        yield* until(() => flaky.failures > failures + 3, "more failed publishes while full")
        expect(pulled).toBe(whileDown) // still not pulled: polling has stopped

        flaky.down = false
        yield* Fiber.join(fiber)
        expect(pulled).toBe(400)
        const records = yield* readAll(flaky.memory)
        expect(records).toHaveLength(400)
        expect(bySymbol(records.map((r) => r.tick))).toEqual(bySymbol(Array.from({ length: 400 }, (_, n) => tickOf(n))))
        expect(yield* gauge).toBe(0)
      })
  )

  it.live("the bus flapping: down and up again several times, still each tick once and in order", () =>
    Effect.gen(function* () {
      const flaky = yield* flakyBus(false)
      let pulled = 0
      const source = Stream.repeatEffect(Effect.sync(() => tickOf(pulled++))).pipe(Stream.take(600))
      const flapper = yield* Effect.fork(
        Effect.forever(
          Effect.zipRight(
            Effect.sync(() => (flaky.down = !flaky.down)),
            Effect.sleep("7 millis")
          )
        )
      )
      yield* Producer.publishStream(source, {
        topic,
        bufferSize: 20,
        maxBatch: 8,
        retry: Schedule.spaced("2 millis")
      }).pipe(Effect.provideService(Bus, flaky.bus), Effect.provide(quiet))
      yield* Fiber.interrupt(flapper)
      const records = yield* readAll(flaky.memory)
      expect(records).toHaveLength(600)
      expect(bySymbol(records.map((r) => r.tick))).toEqual(bySymbol(Array.from({ length: 600 }, (_, n) => tickOf(n))))
      expect(flaky.failures).toBeGreaterThan(0)
    })
  )

  it.live(
    "interrupted while the bus is down: the buffer gets drainTimeout to reach the bus (here it comes back in time)",
    () =>
      Effect.gen(function* () {
        const flaky = yield* flakyBus(true)
        const source = Stream.concat(Stream.fromIterable(Array.from({ length: 30 }, (_, n) => tickOf(n))), Stream.never)
        const fiber = yield* Producer.publishStream(source, {
          topic,
          bufferSize: 100,
          retry: fast,
          drainTimeout: "5 seconds"
        }).pipe(Effect.provideService(Bus, flaky.bus), Effect.provide(quiet), Effect.fork)
        yield* until(() => flaky.failures >= 2, "failed publishes")
        yield* Effect.fork(
          Effect.zipRight(
            pause(50),
            Effect.sync(() => (flaky.down = false))
          )
        )
        yield* Fiber.interrupt(fiber)
        expect(yield* readAll(flaky.memory)).toHaveLength(30)
      })
  )

  // TestClock: the retries and the drain's timeout are the code's own sleeps, so the 50 ms is the one it scheduled
  it.effect(
    "interrupted while the bus stays down: it stops after drainTimeout and says how many ticks were not published",
    () =>
      Effect.gen(function* () {
        const flaky = yield* flakyBus(true)
        const lines: Array<string> = []
        const capture = Logger.add(
          Logger.make(({ message }) => lines.push((Array.isArray(message) ? message : [message]).join(" ")))
        )
        const source = Stream.concat(Stream.fromIterable(Array.from({ length: 12 }, (_, n) => tickOf(n))), Stream.never)
        const fiber = yield* Producer.publishStream(source, {
          topic,
          bufferSize: 100,
          retry: fast,
          drainTimeout: "50 millis"
        }).pipe(Effect.provideService(Bus, flaky.bus), Effect.provide(quiet), Effect.provide(capture), Effect.fork)
        for (let i = 0; i < 100 && flaky.failures < 2; i++) yield* TestClock.adjust("5 millis")
        expect(flaky.failures).toBeGreaterThanOrEqual(2)
        const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
        yield* TestClock.adjust("49 millis")
        expect(Option.isNone(yield* Fiber.poll(interrupting))).toBe(true) // still draining
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(interrupting)
        expect(lines.some((l) => l.includes("12 accepted ticks did not reach the bus in time"))).toBe(true)
        expect(lines.filter((l) => l.includes("publish of")).join("\n")).toContain("publish of 12 ticks failed")
      })
  )

  it.live("a finite retry that gives up fails the stage with the bus error", () =>
    Effect.gen(function* () {
      const flaky = yield* flakyBus(true)
      const result = yield* Producer.publishStream(Stream.make(tickOf(0), tickOf(1)), {
        topic,
        bufferSize: 10,
        retry: Schedule.recurs(2)
      }).pipe(Effect.provideService(Bus, flaky.bus), Effect.provide(quiet), Effect.either)
      expect(Either.isLeft(result) && result.left._tag === "BusError").toBe(true)
      expect(flaky.calls).toBe(3)
    })
  )

  it.effect("PRODUCER_BUFFER: 10,000 by default; a positive integer otherwise", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(ProducerConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
      expect((yield* read({})).bufferSize).toBe(10_000)
      expect((yield* read({ PRODUCER_BUFFER: "250" })).bufferSize).toBe(250)
      expect(Either.isLeft(yield* Effect.either(read({ PRODUCER_BUFFER: "0" })))).toBe(true)
      expect(Either.isLeft(yield* Effect.either(read({ PRODUCER_BUFFER: "lots" })))).toBe(true)
    })
  )
})
