import type { SqlClient } from "@effect/sql"
import { Cause, type ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import { Bus, type BusShape } from "../../../src/Bus/Bus.js"
import type { MemoryGroups } from "../../../src/Bus/Memory.js"
import { LatestCache, type LatestCacheShape } from "../../../src/Cache/LatestCache.js"
import * as Processor from "../../../src/Processor.js"
import * as Postgres from "../../../src/Store/Store.js"
import {
  faultyBus,
  faultyCache,
  faultySql,
  faultyStore,
  type Generation,
  type Instance,
  Killed,
  Sql,
  type Switchboard
} from "../../support/Faults.js"

/** What every processor instance of one schedule shares: the adapters under the fault wrappers. */
export interface Shared {
  readonly sql: SqlClient.SqlClient
  readonly bus: BusShape
  readonly groups: MemoryGroups
  readonly cache: LatestCacheShape
  readonly s: Switchboard
  readonly config: ConfigProvider.ConfigProvider
}

export const label = (inst: Instance) => `${inst.name}#${inst.generation}`

const isKilled = (cause: Cause.Cause<unknown>) => [...Cause.defects(cause)].some((d) => d instanceof Killed)

/** One generation's adapters: its own store (on its own SqlClient view), bus member and cache writer. */
const services = (sh: Shared, g: Generation) =>
  Effect.map(Postgres.make.pipe(Effect.provideService(Sql, faultySql(g, sh.sql))), (store) =>
    Layer.mergeAll(
      Layer.succeed(Postgres.Store, faultyStore(g, store)),
      Layer.succeed(LatestCache, faultyCache(sh.s, sh.cache, g)),
      Layer.succeed(Bus, faultyBus(g, sh.bus, sh.groups, label(g.inst)))
    )
  )

/**
 * Runs an instance's processor and restarts it whenever it is killed: a killed generation is abandoned (interrupted
 * without waiting; all its calls die before reaching an adapter) and the next one starts from the checkpoints.
 * Any other end but an interruption is a stage dying, collected in `died`.
 */
export const supervise = (sh: Shared, inst: Instance, died: Array<string>) =>
  Effect.gen(function* () {
    for (;;) {
      inst.generation++
      const g: Generation = { s: sh.s, inst, gen: inst.generation }
      const killed = yield* Deferred.make<void>()
      inst.onKill = () => Deferred.unsafeDone(killed, Exit.void)
      const layer = yield* services(sh, g)
      const fiber = yield* Processor.run.pipe(
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.scoped,
        Effect.provide(layer),
        Effect.withConfigProvider(sh.config),
        Effect.exit,
        Effect.fork
      )
      const first = yield* Effect.raceFirst(
        Effect.map(Fiber.join(fiber), Option.some),
        Effect.as(Deferred.await(killed), Option.none())
      )
      if (Option.isNone(first) || inst.deadUpTo >= g.gen) {
        yield* Fiber.interruptFork(fiber)
        continue
      }
      const exit = first.value
      if (Exit.isFailure(exit) && isKilled(exit.cause)) continue
      if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause))
        died.push(`${inst.name}: ${Cause.pretty(exit.cause)}`)
      return
    }
  })
