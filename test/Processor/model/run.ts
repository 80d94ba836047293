import { HttpApiBuilder, HttpServer } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { expect } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, FastCheck as fc, Layer, Metric } from "effect"
import type { BusShape } from "../../../src/Bus/Bus.js"
import type { MemoryGroups } from "../../../src/Bus/Memory.js"
import { LatestCache, type LatestCacheShape } from "../../../src/Cache/LatestCache.js"
import { Api } from "../../../src/Http/Api.js"
import { HandlersLive } from "../../../src/Http/Handlers.js"
import * as Processor from "../../../src/Processor.js"
import * as Postgres from "../../../src/Store/Store.js"
import { count, faultyCache, faultyStore, instance, type Switchboard, switchboard } from "../../support/Faults.js"
import { checkRecord } from "./checks.js"
import { type Expected, expected, type Raw, rawArb } from "./input.js"
import { supervise } from "./instances.js"
import { disarm, partitions, type Run, runStep, type Step, stepArb, waitUntil } from "./schedule.js"

export interface Env {
  readonly sql: SqlClient.SqlClient
  readonly bus: BusShape
  readonly groups: MemoryGroups
  readonly cache: LatestCacheShape
}

export interface Scenario {
  readonly raw: Raw
  readonly steps: ReadonlyArray<Step>
  readonly batchSize: number
  readonly instances: number
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  raw: rawArb,
  steps: fc.array(stepArb, { minLength: 2, maxLength: 14, size: "medium" }),
  batchSize: fc.integer({ min: 1, max: 40 }),
  instances: fc.integer({ min: 2, max: 3 })
})

export const maxPending = 40
export const maxBatch = 7

const configFor = (topic: string, batchSize: number) =>
  ConfigProvider.fromMap(
    new Map([
      ["KAFKA_TOPIC", topic],
      ["KAFKA_PARTITIONS", String(partitions)],
      ["BATCH_SIZE", String(batchSize)],
      ["CHECKPOINT_INTERVAL", "20 millis"],
      ["ALLOWED_LATENESS", "1 minute"],
      ["MAX_PENDING_TICKS", String(maxPending)],
      ["RETRY_MAX_DELAY", "40 millis"]
    ])
  )

/** /api/latest through the real handlers: 503 exactly while the cache is down. */
const latestProbe = (env: Env, s: Switchboard) =>
  Effect.gen(function* () {
    const store = faultyStore({ s, inst: instance("api"), gen: 1 }, yield* Postgres.make)
    const web = HttpApiBuilder.toWebHandler(
      Layer.mergeAll(HttpApiBuilder.api(Api).pipe(Layer.provide(HandlersLive)), HttpServer.layerContext).pipe(
        Layer.provide(
          Layer.mergeAll(Layer.succeed(Postgres.Store, store), Layer.succeed(LatestCache, faultyCache(s, env.cache)))
        )
      )
    )
    yield* Effect.addFinalizer(() => Effect.promise(() => web.dispose()))
    return Effect.gen(function* () {
      const down = s.cacheDown
      const res = yield* Effect.promise(() => web.handler(new Request("http://localhost/api/latest")))
      // Outages end in the background: only a request the cache's state did not change under is judged.
      if (s.cacheDown !== down) return
      expect(res.status, `/api/latest while the cache is ${down ? "down" : "up"}`).toBe(down ? 503 : 200)
      if (down) count(s, "cacheDown")
    })
  })

/** Checkpoints at the log's end on every partition: everything published is in the record. */
const drained = (env: Env, topic: string) =>
  Effect.gen(function* () {
    const ends = yield* env.bus.endOffsets(topic)
    const rows = yield* env.sql<{ partition: number; nextOffset: string }>`
      SELECT partition, next_offset FROM processor_checkpoints WHERE topic = ${topic}`
    return rows.length === partitions && rows.every((r) => Number(r.nextOffset) === ends.get(r.partition))
  })

export interface Outcome {
  readonly input: Expected
  readonly stats: Switchboard["stats"]
}

/** One schedule: N processors in one group under the steps, then healed and drained, then the record checked. */
export const runScenario = (env: Env, run: number, sc: Scenario) =>
  Effect.scoped(
    Effect.gen(function* () {
      const input = expected(run, sc.raw)
      const topic = `faults-${run}`
      const groupId = "crypto-processor"
      yield* env.bus.ensureTopic(topic, partitions)
      const s = switchboard()
      const sh = { ...env, s, config: configFor(topic, sc.batchSize) }
      const { groups } = env
      let published = 0
      const publish = (n: number) =>
        Effect.suspend(() => {
          const next = input.records.slice(published, published + n)
          published += next.length
          const keys = next.map((r) => r.key)
          return next.length === 0 ? Effect.succeed(keys) : Effect.as(env.bus.publish(topic, next), keys)
        })
      const instances = Array.from({ length: sc.instances }, (_, i) => instance(`p${i}`))
      const r: Run = { sh, topic, groupId, instances, publish }
      const probe = yield* latestProbe(env, s)
      const died: Array<string> = []
      const fencedBefore = (yield* Metric.value(Processor.fencedOut)).count
      const fibers = yield* Effect.forEach(instances, (inst) => Effect.fork(supervise(sh, inst, died)))

      // The schedule starts once the group has settled: every member has claimed what it was given.
      yield* waitUntil(() => {
        const owners = new Set(groups.assignment(topic, groupId).values())
        return owners.size === Math.min(partitions, instances.length) && s.epochs.size === partitions
      }, 1000)
      let pendingSeen = 0
      yield* Effect.scoped(
        Effect.gen(function* () {
          for (const step of sc.steps) {
            yield* runStep(r, step)
            yield* probe
            pendingSeen = Math.max(pendingSeen, (yield* Metric.value(Processor.pendingGauge)).value)
          }
          // The outages still on end by themselves (each fiber ends its outage): this scope waits for them.
        }).pipe(Effect.zipLeft(waitUntil(() => s.outages.cache + s.outages.database + s.outages.hang === 0, 200)))
      )
      yield* publish(input.records.length)
      for (let i = 0; i < 3000 && !(yield* drained(env, topic)) && died.length === 0; i++) yield* Effect.sleep(10)
      disarm(r)
      yield* Fiber.interruptAll(fibers)

      expect(died, "no stage died except by an injected kill").toEqual([])
      expect(yield* drained(env, topic), "every record checkpointed").toBe(true)
      expect(pendingSeen).toBeLessThanOrEqual(maxPending + maxBatch)
      expect(s.violations, "stale commits refused, fenced work dropped").toEqual([])
      // Every refused stale checkpoint, as the store saw it, is in checkpoints_fenced_total; and only those.
      const fenced = (yield* Metric.value(Processor.fencedOut)).count - fencedBefore
      expect(fenced, "checkpoints_fenced_total").toBe(s.stats["fenced"] ?? 0)
      yield* checkRecord(
        env.sql,
        env.bus,
        topic,
        ["A", "B", "C"].map((x) => `R${run}${x}`),
        input
      )
      return { input, stats: s.stats } satisfies Outcome
    })
  )
