import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Runtime } from "effect"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import * as SqlLive from "../../src/Sql/Client.js"
import { MigrationsLive } from "../../src/Sql/Migrations.js"
import { killPoints } from "../support/Faults.js"
import { maxBatch, runScenario, scenarioArb } from "./model/run.js"

// The model-based suite: 2-3 real processors in one consumer group on the embedded adapters (the in-memory log with
// groups, PGlite) under generated fault schedules (model/schedule.ts): kills at every point that matters, with no
// finalizer writing anything; stalls that let the group move partitions while the old owner holds uncommitted work;
// database outages, hangs to the timeout path and lost answers; cache outages. The input (model/input.ts) has
// duplicates, reordering, ticks at the lateness edges, malformed records, several sources and days, and a venue's
// trades (trade ids, several in one millisecond, repeated) with gap records where ids are missing. After each
// schedule the record is checked against the tests' own reference (model/checks.ts, test/support/Reference.ts).
// A failure prints the seed and the shrunk schedule; `PROPERTY_SEED=<n> npx vitest run test/Processor` replays it.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
const numRuns = Number(process.env["FAULT_RUNS"] ?? 100)
console.log("property seed", seed, "runs", numRuns)

const SharedLive = Layer.mergeAll(
  MemoryCache.layer("45 seconds"),
  MigrationsLive.pipe(Layer.provideMerge(SqlLive.embedded))
)

/**
 * Each fault kind and input feature must have happened in at least this share of the runs (checked from 100 runs).
 * Well under what a default run shows (docs/failure-modes.md), so a fault the model stopped injecting fails the
 * suite while chance alone almost never does.
 */
const fairShare: Record<string, number> = {
  ...Object.fromEntries(killPoints.map((p) => [`kill:${p}`, 0.01])),
  "expired holding work": 0.1,
  fenced: 0.1,
  timeout: 0.02,
  claimTimeout: 0.02,
  hang: 0.05,
  refused: 0.03,
  ambiguousCommit: 0.015,
  ambiguousClaim: 0.015,
  cacheDown: 0.1,
  "duplicate far from its original": 0.2,
  "tick just inside the lateness": 0.1,
  "tick just outside the lateness": 0.1,
  "malformed record interleaved": 0.2,
  "several sources for one symbol": 0.3,
  "a 1h bucket closed": 0.2,
  "a 1d bucket closed": 0.15,
  "over two days": 0.05,
  "late tick": 0.2,
  "trades in one millisecond": 0.2,
  "trade repeated": 0.05,
  "gap record": 0.2,
  "gap record repeated": 0.01
}

layer(SharedLive, { timeout: "120 seconds", excludeTestServices: true })(
  "processor group under fault schedules (embedded adapters)",
  (it) => {
    it.effect(
      "every tick once, every candle field equal to the reference, stale owners fenced, /api/latest 503 exactly while the cache is down",
      () =>
        Effect.gen(function* () {
          const runtime = yield* Effect.runtime<SqlClient.SqlClient>()
          const sql = yield* SqlClient.SqlClient
          const { bus, groups } = yield* MemoryBus.makeWithGroups({ maxBatch })
          const env = { sql, bus, groups, cache: yield* LatestCache }
          let run = 0
          const runsWith: Record<string, number> = {}
          const totals: Record<string, number> = {}
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(scenarioArb, (sc) =>
                Runtime.runPromise(runtime)(
                  Effect.map(runScenario(env, ++run, sc), ({ input, stats }) => {
                    for (const f of input.features) runsWith[f] = (runsWith[f] ?? 0) + 1
                    for (const [k, n] of Object.entries(stats)) {
                      totals[k] = (totals[k] ?? 0) + n
                      if (n > 0) runsWith[k] = (runsWith[k] ?? 0) + 1
                    }
                  })
                )
              ),
              // A failing schedule can cost a drain timeout per shrink step: shrink on request (FAULT_SHRINK=1).
              { seed, numRuns, endOnFailure: process.env["FAULT_SHRINK"] !== "1" }
            )
          )
          const table = Object.keys({ ...fairShare, ...runsWith })
            .sort()
            .map(
              (k) =>
                `${k.padEnd(32)} ${String(runsWith[k] ?? 0).padStart(4)} runs ${String(totals[k] ?? "").padStart(6)}`
            )
          console.log(`fault kinds over ${run} runs (seed ${seed}):\n${table.join("\n")}`)
          if (run >= 100) {
            const short = Object.entries(fairShare).filter(([k, share]) => (runsWith[k] ?? 0) < share * run)
            expect(short, "fault kinds that happened in too few runs").toEqual([])
          }
        }),
      600_000
    )
  }
)
