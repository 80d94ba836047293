import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Fiber, FastCheck as fc, Layer, Logger, LogLevel, Ref, Runtime, Schema, Stream } from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { foldCandles } from "../../src/Domain/Aggregate.js"
import { intervals } from "../../src/Domain/Interval.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as Processor from "../../src/Processor.js"
import type { LatestCache } from "../../src/Sinks/LatestCache.js"
import * as MemoryCache from "../../src/Sinks/Memory.js"
import * as Postgres from "../../src/Sinks/Postgres.js"
import * as SqlLive from "../../src/Sql/Client.js"
import { MigrationsLive } from "../../src/Sql/Migrations.js"

// Model-based: random input (duplicates, reordering, late ticks, malformed records) through the real processor on
// the embedded adapters (in-memory log, PGlite), crashed at random checkpoints and rebuilt from its checkpoint each time.
// PROPERTY_SEED=<n> replays a run; fast-check also prints its seed and the shrunk counterexample on failure.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const encode = Schema.encodeSync(TickJson)
const epoch = Date.UTC(2025, 10, 1)
const lateness = 60_000

/** A crash: the store dies at a checkpoint instead of committing it (as if the process were killed right there). */
class Crash extends Error {}

const SharedLive = Layer.mergeAll(
  MemoryBus.layer({ maxBatch: 7 }),
  MemoryCache.layer("45 seconds"),
  MigrationsLive.pipe(Layer.provideMerge(SqlLive.embedded))
)

interface Input {
  readonly unique: ReadonlyArray<Tick>
  readonly records: ReadonlyArray<{ key: string; value: string; kind: "tick" | "malformed" | "late" }>
}

const rawArb = fc.record({
    rows: fc.array(fc.record({
      s: fc.integer({ min: 0, max: 3 }),
      gap: fc.integer({ min: 1, max: 20_000 }),
      price: fc.double({ min: 0.5, max: 5_000, noNaN: true }),
      volume: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
      delay: fc.integer({ min: 0, max: lateness / 2 }),
      copies: fc.constantFrom(1, 1, 1, 2)
    }), { maxLength: 120 }),
    malformed: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.oneof(fc.string(), fc.constant('{"price": -1}'), fc.constant("null"))), { maxLength: 5 })
  })
type Raw = typeof rawArb extends fc.Arbitrary<infer A> ? A : never

/** The input for one run; its symbols are unique to the run, so runs never see each other's rows. */
const buildInput = (run: number, { rows, malformed }: Raw): Input => {
    const clock = new Map<number, number>()
    const symbols = ["A", "B", "C", "D"].map((x) => `R${run}${x}`)
    const unique = rows.map((r) => {
      const eventTime = (clock.get(r.s) ?? epoch) + r.gap
      clock.set(r.s, eventTime)
      const symbol = symbols[r.s]!
      return { tick: new Tick({ symbol, coinId: symbol.toLowerCase(), price: r.price, ...(r.volume === undefined ? {} : { volume: r.volume }), eventTime, source: "simulator", ingestTime: eventTime }), r }
    })
    // Delivery order: event time plus a delay under the lateness, so reordered but never late; some twice.
    const delivered = unique
      .flatMap(({ tick, r }) => Array.from({ length: r.copies }, () => ({ at: tick.eventTime + r.delay, value: encode(tick), key: tick.symbol, kind: "tick" as const })))
      .sort((a, b) => a.at - b.at)
    const bad = malformed.map(([s, value]) => ({ key: symbols[s]!, value, kind: "malformed" as const }))
    // A tick a day behind its symbol's newest: late beyond any doubt, wherever it lands.
    const late = unique.length > 0 ? [{ key: unique[0]!.tick.symbol, value: encode(new Tick({ ...unique[0]!.tick, eventTime: epoch - 86_400_000 })), kind: "late" as const }] : []
    return { unique: unique.map((u) => u.tick), records: [...delivered, ...bad, ...late] }
}

layer(SharedLive, { timeout: "120 seconds", excludeTestServices: true })("processor crash and restart (embedded adapters)", (it) => {
  it.effect("Postgres holds the reference fold of the deduplicated input after any crashes", () =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<Bus | SqlClient.SqlClient | LatestCache>()
      const sql = yield* SqlClient.SqlClient
      const bus = yield* Bus
      let run = 0

      const check = (raw: Raw, crashes: ReadonlyArray<number>, batchSize: number) =>
        Effect.gen(function*() {
          run++
          const input = buildInput(run, raw)
          const topic = `crash-${run}`
          yield* bus.ensureTopic(topic, 3)
          yield* bus.publish(topic, input.records.map(({ key, value }) => ({ key, value })))
          const ends = yield* bus.endOffsets(topic)

          const config = ConfigProvider.fromMap(new Map([
            ["KAFKA_TOPIC", topic], ["BATCH_SIZE", String(batchSize)], ["CHECKPOINT_INTERVAL", "20 millis"],
            ["ALLOWED_LATENESS", "1 minute"]
          ]))
          const drained = sql<{ partition: number; nextOffset: string }>`SELECT partition, next_offset FROM processor_checkpoints WHERE topic = ${topic}`
            .pipe(Effect.map((rows) => rows.length === 3 && rows.every((r) => Number(r.nextOffset) === ends.get(r.partition))))

          let restarts = 0
          for (;;) {
            const commits = yield* Ref.make(0)
            const crashAt = crashes[restarts]
            const store = yield* Postgres.make
            const fragile = Layer.succeed(Postgres.Store, {
              ...store,
              commit: (batch) =>
                Effect.flatMap(Ref.updateAndGet(commits, (n) => n + 1), (n) =>
                  n === crashAt ? Effect.die(new Crash()) : store.commit(batch))
            })
            const fiber = yield* Processor.run.pipe(
              Logger.withMinimumLogLevel(LogLevel.Warning),
              Effect.scoped,
              Effect.provide(fragile),
              Effect.withConfigProvider(config),
              Effect.fork
            )
            // Until it crashes, or has checkpointed every record.
            for (;;) {
              yield* Effect.sleep("25 millis")
              if (fiber.unsafePoll() !== null || (yield* drained)) break
            }
            const exit = fiber.unsafePoll() ?? (yield* Fiber.interrupt(fiber))
            if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) {
              restarts++
              if (restarts > crashes.length) return yield* Effect.die(exit.cause)
              continue
            }
            break
          }

          const symbols = [...new Set(input.records.map((r) => r.key))]
          const rows = yield* sql<{ symbol: string; eventTime: Date; n: number }>`
            SELECT symbol, event_time, count(*)::int AS n FROM ticks WHERE ${sql.in("symbol", symbols.length ? symbols : ["-"])} GROUP BY symbol, event_time`
          expect(rows.length).toBe(input.unique.length)
          expect(rows.every((r) => r.n === 1)).toBe(true)

          const reference = foldCandles(input.unique, intervals)
          const candles = yield* sql<{ symbol: string; interval: string; bucketStart: Date; open: number; high: number; low: number; close: number; tickCount: number; volume: number }>`
            SELECT * FROM candles WHERE ${sql.in("symbol", symbols.length ? symbols : ["-"])}`
          expect(candles.length).toBe(reference.size)
          for (const c of candles) {
            const ref = reference.get(`${c.symbol}|${c.interval}|${c.bucketStart.getTime()}`)!
            expect([c.open, c.high, c.low, c.close, c.tickCount]).toEqual([ref.open, ref.high, ref.low, ref.close, ref.tickCount])
            expect(c.volume).toBeCloseTo(ref.volume, 6)
          }

          // Every malformed and late record is in the DLQ with its reason (at least once: a crash may repeat one).
          const dead = new Map<string, string>()
          yield* bus.consume({ topic: `${topic}.dlq`, groupId: `check-${run}`, onAssign: () => Effect.succeed(new Map<number, number>()) }).pipe(
            Stream.interruptAfter("100 millis"),
            Stream.runForEach((e) =>
              Effect.sync(() => {
                if (e._tag !== "Records") return
                for (const r of e.records) {
                  const d = JSON.parse(r.value) as { reason: string; partition: number; offset: number }
                  dead.set(`${d.partition}/${d.offset}`, d.reason)
                }
              })
            )
          )
          const reasons = [...dead.values()]
          expect(reasons.filter((r) => r === "decode").length).toBe(input.records.filter((r) => r.kind === "malformed").length)
          expect(reasons.filter((r) => r === "late").length).toBe(input.records.filter((r) => r.kind === "late").length)
        })

      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            rawArb,
            fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }),
            fc.integer({ min: 1, max: 40 }),
            (raw, crashes, batchSize) => Runtime.runPromise(runtime)(check(raw, crashes, batchSize))
          ),
          { seed, numRuns: 100 }
        )
      )
    }), 240_000)
})
