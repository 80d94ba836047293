import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Effect,
  Exit,
  Fiber,
  FastCheck as fc,
  Layer,
  Logger,
  LogLevel,
  Metric,
  Runtime,
  Schema,
  Stream
} from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import { foldCandles } from "../../src/Domain/Aggregate.js"
import { intervals } from "../../src/Domain/Interval.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import { Api } from "../../src/Http/Api.js"
import { HandlersLive } from "../../src/Http/Handlers.js"
import * as Processor from "../../src/Processor.js"
import * as SqlLive from "../../src/Sql/Client.js"
import { MigrationsLive } from "../../src/Sql/Migrations.js"
import * as Postgres from "../../src/Store/Store.js"
import { faultyCache, faultyStore, InjectedCrash, switchboard } from "../support/Faults.js"

// Model-based fault schedules: random input (duplicates, reordering, late ticks, malformed records) through the real
// processor on the embedded adapters (in-memory log, PGlite), interleaved with cache outages, database outages and
// crashes (the processor dies at a checkpoint and is rebuilt from its checkpoint), checked against a reference model.
// A failure prints the seed and the shrunk schedule; `PROPERTY_SEED=<n> npx vitest run test/Processor` replays it.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const encode = Schema.encodeSync(TickJson)
const epoch = Date.UTC(2025, 10, 1)
const lateness = 60_000

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
  rows: fc.array(
    fc.record({
      s: fc.integer({ min: 0, max: 3 }),
      gap: fc.integer({ min: 1, max: 20_000 }),
      price: fc.double({ min: 0.5, max: 5_000, noNaN: true }),
      volume: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
      delay: fc.integer({ min: 0, max: lateness / 2 }),
      copies: fc.constantFrom(1, 1, 1, 2)
    }),
    { maxLength: 120 }
  ),
  malformed: fc.array(
    fc.tuple(fc.integer({ min: 0, max: 3 }), fc.oneof(fc.string(), fc.constant('{"price": -1}'), fc.constant("null"))),
    { maxLength: 5 }
  )
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
    return {
      tick: new Tick({
        symbol,
        coinId: symbol.toLowerCase(),
        price: r.price,
        ...(r.volume === undefined ? {} : { volume: r.volume }),
        eventTime,
        source: "simulator",
        ingestTime: eventTime
      }),
      r
    }
  })
  // Delivery order: event time plus a delay under the lateness, so reordered but never late; some twice.
  const delivered = unique
    .flatMap(({ tick, r }) =>
      Array.from({ length: r.copies }, () => ({
        at: tick.eventTime + r.delay,
        value: encode(tick),
        key: tick.symbol,
        kind: "tick" as const
      }))
    )
    .sort((a, b) => a.at - b.at)
  const bad = malformed.map(([s, value]) => ({ key: symbols[s]!, value, kind: "malformed" as const }))
  // A tick a day behind its symbol's newest: late beyond any doubt, wherever it lands.
  const late =
    unique.length > 0
      ? [
          {
            key: unique[0]!.tick.symbol,
            value: encode(new Tick({ ...unique[0]!.tick, eventTime: epoch - 86_400_000 })),
            kind: "late" as const
          }
        ]
      : []
  return { unique: unique.map((u) => u.tick), records: [...delivered, ...bad, ...late] }
}

type Step =
  | { readonly _tag: "Publish"; readonly count: number }
  | { readonly _tag: "Sleep"; readonly millis: number }
  | { readonly _tag: "CacheDown" }
  | { readonly _tag: "CacheUp" }
  | { readonly _tag: "DatabaseDown" }
  | { readonly _tag: "DatabaseUp" }
  | { readonly _tag: "Crash" }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }).map((count) => ({ _tag: "Publish" as const, count })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 60 }).map((millis) => ({ _tag: "Sleep" as const, millis })) },
  { weight: 1, arbitrary: fc.constant({ _tag: "CacheDown" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "CacheUp" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "DatabaseDown" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "DatabaseUp" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Crash" as const }) }
)

const maxPending = 40
const maxBatch = 7

const isInjectedCrash = (cause: Cause.Cause<unknown>) =>
  Cause.defects(cause).pipe((ds) => [...ds].some((d) => d instanceof InjectedCrash))

layer(SharedLive, { timeout: "120 seconds", excludeTestServices: true })(
  "processor under fault schedules (embedded adapters)",
  (it) => {
    it.effect(
      "no tick lost or doubled, candles equal the reference, /api/latest is 503 exactly while the cache is down",
      () =>
        Effect.gen(function* () {
          const runtime = yield* Effect.runtime<Bus | SqlClient.SqlClient | LatestCache>()
          const sql = yield* SqlClient.SqlClient
          const bus = yield* Bus
          const baseCache = yield* LatestCache
          let run = 0

          const check = (raw: Raw, steps: ReadonlyArray<Step>, batchSize: number) =>
            Effect.gen(function* () {
              run++
              const input = buildInput(run, raw)
              const topic = `faults-${run}`
              yield* bus.ensureTopic(topic, 3)
              const sw = switchboard()
              let published = 0
              const publish = (n: number) =>
                Effect.suspend(() => {
                  const next = input.records.slice(published, published + n)
                  published += next.length
                  return next.length === 0
                    ? Effect.void
                    : bus.publish(
                        topic,
                        next.map(({ key, value }) => ({ key, value }))
                      )
                })

              const config = ConfigProvider.fromMap(
                new Map([
                  ["KAFKA_TOPIC", topic],
                  ["BATCH_SIZE", String(batchSize)],
                  ["CHECKPOINT_INTERVAL", "20 millis"],
                  ["ALLOWED_LATENESS", "1 minute"],
                  ["MAX_PENDING_TICKS", String(maxPending)],
                  ["RETRY_MAX_DELAY", "40 millis"]
                ])
              )
              const store = faultyStore(sw, yield* Postgres.make)
              const services = Layer.mergeAll(
                Layer.succeed(Postgres.Store, store),
                Layer.succeed(LatestCache, faultyCache(sw, baseCache))
              )
              const web = HttpApiBuilder.toWebHandler(
                Layer.mergeAll(HttpApiBuilder.api(Api).pipe(Layer.provide(HandlersLive)), HttpServer.layerContext).pipe(
                  Layer.provide(services)
                )
              )

              // The supervisor restarts the processor after an injected crash; any other end is a stage dying.
              const died: Array<Cause.Cause<unknown>> = []
              let crashes = 0
              const supervisor = Effect.gen(function* () {
                for (;;) {
                  sw.commits = 0
                  const exit = yield* Processor.run.pipe(
                    Logger.withMinimumLogLevel(LogLevel.None),
                    Effect.scoped,
                    Effect.provide(services),
                    Effect.withConfigProvider(config),
                    Effect.exit
                  )
                  if (Exit.isFailure(exit) && isInjectedCrash(exit.cause)) {
                    crashes++
                    sw.crashAtCommit = undefined
                    continue
                  }
                  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) died.push(exit.cause)
                  return
                }
              })
              const fiber = yield* Effect.fork(supervisor)

              let pendingSeen = 0
              const observe = Effect.gen(function* () {
                const res = yield* Effect.promise(() => web.handler(new Request("http://localhost/api/latest")))
                expect(res.status, `/api/latest while the cache is ${sw.cacheDown ? "down" : "up"}`).toBe(
                  sw.cacheDown ? 503 : 200
                )
                pendingSeen = Math.max(pendingSeen, (yield* Metric.value(Processor.pendingGauge)).value)
              })

              for (const step of steps) {
                switch (step._tag) {
                  case "Publish":
                    yield* publish(step.count)
                    break
                  case "Sleep":
                    yield* Effect.sleep(step.millis)
                    break
                  case "CacheDown":
                    sw.cacheDown = true
                    break
                  case "CacheUp":
                    sw.cacheDown = false
                    break
                  case "DatabaseDown":
                    sw.databaseDown = true
                    break
                  case "DatabaseUp":
                    sw.databaseDown = false
                    break
                  case "Crash":
                    sw.crashAtCommit = sw.commits + 1
                    break
                }
                yield* observe
              }

              // Heal everything, send the rest, and wait until every record is checkpointed.
              sw.cacheDown = false
              sw.databaseDown = false
              yield* publish(input.records.length)
              const ends = yield* bus.endOffsets(topic)
              const drained = sql<{
                partition: number
                nextOffset: string
              }>`SELECT partition, next_offset FROM processor_checkpoints WHERE topic = ${topic}`.pipe(
                Effect.map(
                  (rows) => rows.length === 3 && rows.every((r) => Number(r.nextOffset) === ends.get(r.partition))
                )
              )
              for (let i = 0; !(yield* drained); i++) {
                if (i > 1500 || fiber.unsafePoll() !== null) break
                yield* Effect.sleep("10 millis")
              }
              yield* Fiber.interrupt(fiber)
              yield* Effect.promise(() => web.dispose())
              expect(died.map((c) => Cause.pretty(c))).toEqual([])
              expect(yield* drained).toBe(true)
              expect(pendingSeen).toBeLessThanOrEqual(maxPending + maxBatch)

              const symbols = [...new Set(input.records.map((r) => r.key))]
              const rows = yield* sql<{ symbol: string; eventTime: Date; n: number }>`
            SELECT symbol, event_time, count(*)::int AS n FROM ticks WHERE ${sql.in("symbol", symbols.length ? symbols : ["-"])} GROUP BY symbol, event_time`
              expect(rows.length).toBe(input.unique.length)
              expect(rows.every((r) => r.n === 1)).toBe(true)

              const reference = foldCandles(input.unique, intervals)
              const candles = yield* sql<{
                symbol: string
                interval: string
                bucketStart: Date
                open: number
                high: number
                low: number
                close: number
                tickCount: number
                volume: number
              }>`
            SELECT * FROM candles WHERE ${sql.in("symbol", symbols.length ? symbols : ["-"])}`
              expect(candles.length).toBe(reference.size)
              for (const c of candles) {
                const ref = reference.get(`${c.symbol}|${c.interval}|${c.bucketStart.getTime()}`)!
                expect([c.open, c.high, c.low, c.close, c.tickCount]).toEqual([
                  ref.open,
                  ref.high,
                  ref.low,
                  ref.close,
                  ref.tickCount
                ])
                expect(c.volume).toBeCloseTo(ref.volume, 6)
              }

              // Every malformed and late record is in the DLQ with its reason (at least once: a crash may repeat one).
              const dead = new Map<string, string>()
              yield* bus
                .consume({
                  topic: `${topic}.dlq`,
                  groupId: `check-${run}`,
                  onAssign: () => Effect.succeed(new Map<number, number>())
                })
                .pipe(
                  Stream.interruptAfter("50 millis"),
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
              expect(reasons.filter((r) => r === "decode").length).toBe(
                input.records.filter((r) => r.kind === "malformed").length
              )
              expect(reasons.filter((r) => r === "late").length).toBe(
                input.records.filter((r) => r.kind === "late").length
              )
              // … and recorded in Postgres exactly once, by the checkpoint that moved past them (the key is the record's offset).
              const recorded = yield* sql<{ reason: string; partition: number; offset: string }>`
            SELECT reason, partition, "offset" FROM dead_letters WHERE topic = ${topic}`
              expect(new Map(recorded.map((r) => [`${r.partition}/${r.offset}`, r.reason]))).toEqual(dead)
              void crashes
            })

          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(
                rawArb,
                fc.array(stepArb, { maxLength: 14 }),
                fc.integer({ min: 1, max: 40 }),
                (raw, steps, batchSize) => Runtime.runPromise(runtime)(check(raw, steps, batchSize))
              ),
              { seed, numRuns: Number(process.env["FAULT_RUNS"] ?? 200) }
            )
          )
        }),
      600_000
    )
  }
)
