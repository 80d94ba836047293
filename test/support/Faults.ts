import { SqlClient, SqlError } from "@effect/sql"
import { Effect, Stream } from "effect"
import type { BusShape } from "../../src/Bus/Bus.js"
import type { MemoryGroups } from "../../src/Bus/Memory.js"
import { CacheUnavailable, type LatestCacheShape } from "../../src/Cache/LatestCache.js"
import { CommitTimeout, type Store } from "../../src/Store/Store.js"

/**
 * Fault injection for the adapters, by wrapping them: switchboards the test flips while processors run.
 *
 * - `Switchboard` (shared by every instance): the cache or the database down (every call fails as the real adapter
 *   fails when its server is away), the database hanging (a checkpoint transaction waits inside the store's timeout,
 *   so the timeout path runs), and commits or claims that succeed in the database while the client sees an error.
 * - `Instance` (one processor, across its generations): a kill armed at a point (the n-th time that point is reached
 *   the instance dies there, as with SIGKILL: from then on every call of that generation dies before reaching any
 *   adapter, so its finalizers write nothing), and `stopped` (as SIGSTOP: its database calls wait until resumed).
 * - `Stats`: what actually happened, counted where it happened, for the suite's fair-share assertions.
 */
export interface Switchboard {
  cacheDown: boolean
  databaseDown: boolean
  databaseHang: boolean
  /** Outages in progress, by kind (they overlap). */
  readonly outages: { cache: number; database: number; hang: number }
  /** The next n commits (claims) succeed in the database and are reported to the client as failed. */
  ambiguousCommits: number
  ambiguousClaims: number
  readonly stats: Stats
  /** partition → the newest epoch any claim returned (what the database holds, claims in flight aside). */
  readonly epochs: Map<number, number>
  /** Fenced `partition/epoch` pairs: their work must never be offered again. */
  readonly fencedPairs: Set<string>
  /** Broken invariants seen at the adapters (a stale commit accepted, fenced work offered again). */
  readonly violations: Array<string>
}

export type Stats = Record<string, number>

export const switchboard = (): Switchboard => ({
  cacheDown: false,
  databaseDown: false,
  databaseHang: false,
  outages: { cache: 0, database: 0, hang: 0 },
  ambiguousCommits: 0,
  ambiguousClaims: 0,
  stats: {},
  epochs: new Map(),
  fencedPairs: new Set(),
  violations: []
})

export const count = (s: Switchboard, what: string, n = 1) => {
  s.stats[what] = (s.stats[what] ?? 0) + n
}

export const killPoints = [
  "beforeCommit",
  "duringCommit",
  "afterCommit",
  "claim",
  "afterClaim",
  "dlqPublish",
  "afterDlqPublish",
  "consumer"
] as const
export type KillPoint = (typeof killPoints)[number]

export interface Instance {
  readonly name: string
  generation: number
  /** Generations up to this one are dead. */
  deadUpTo: number
  kill: { readonly point: KillPoint; countdown: number } | undefined
  stopped: boolean
  /** Calls waiting while stopped. */
  blocked: number
  /** Tells the supervisor that the current generation was killed. */
  onKill: () => void
}

export const instance = (name: string): Instance => ({
  name,
  generation: 0,
  deadUpTo: 0,
  kill: undefined,
  stopped: false,
  blocked: 0,
  onKill: () => {}
})

/** The defect a killed generation's calls die with. */
export class Killed extends Error {
  constructor() {
    super("killed")
  }
}

/** The store's bound on a checkpoint transaction while the database hangs (hangs last longer). */
export const hangTimeout = "300 millis"

const downError = () => new SqlError.SqlError({ message: "injected: database down" })
const lostAnswer = () => new SqlError.SqlError({ message: "injected: the answer was lost after the database did it" })

/** One generation of one instance: where its calls check whether it is dead, and where kills fire. */
export interface Generation {
  readonly s: Switchboard
  readonly inst: Instance
  readonly gen: number
}

const dead = (g: Generation) => g.inst.deadUpTo >= g.gen
const die = Effect.die(new Killed())
const alive = <A, E, R>(g: Generation, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => (dead(g) ? die : effect))

/** Fires the armed kill when this is its point and its count is reached: the generation dies here. */
const at = (g: Generation, point: KillPoint): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (dead(g)) return die
    const k = g.inst.kill
    if (k === undefined || k.point !== point || --k.countdown > 0) return Effect.void
    g.inst.kill = undefined
    g.inst.deadUpTo = g.gen
    count(g.s, `kill:${point}`)
    g.inst.onKill()
    return die
  })

const waitWhile = (g: Generation, cond: () => boolean, onWait: () => void, onDone: () => void) =>
  Effect.suspend(() => {
    if (!cond()) return Effect.void
    onWait()
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      dead(g) ? die : cond() ? Effect.zipRight(Effect.sleep(3), loop) : Effect.void
    )
    return Effect.ensuring(
      loop,
      Effect.sync(() => onDone())
    )
  })

/** As SIGSTOP: the instance's database calls wait until it is resumed. */
const gate = (g: Generation) =>
  waitWhile(
    g,
    () => g.inst.stopped,
    () => g.inst.blocked++,
    () => g.inst.blocked--
  )

/**
 * The SqlClient the store runs on, with hooks inside each transaction: a hang at its start (the store's timeout ends
 * it) and the `duringCommit` kill after its last statement, before COMMIT (the transaction rolls back).
 */
export const faultySql = (g: Generation, sql: SqlClient.SqlClient): SqlClient.SqlClient =>
  new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== "withTransaction") return Reflect.get(target, prop, receiver)
      return <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        target.withTransaction(
          Effect.zipRight(
            waitWhile(
              g,
              () => g.s.databaseHang,
              () => count(g.s, "hang"),
              () => {}
            ),
            Effect.zipLeft(effect, at(g, "duringCommit"))
          )
        )
    }
  })

const checkCommit = (g: Generation, batch: Parameters<Store["Type"]["commit"]>[0]) => {
  for (const p of batch.partitions) {
    const pair = `${p.partition}/${p.epoch}`
    if (g.s.fencedPairs.has(pair)) g.s.violations.push(`${g.inst.name}: fenced work offered again (${pair})`)
  }
  return batch.partitions.filter((p) => p.epoch < (g.s.epochs.get(p.partition) ?? 0)).map((p) => p.partition)
}

export const faultyStore = (g: Generation, store: Store["Type"]): Store["Type"] => {
  const commit: Store["Type"]["commit"] = (batch) =>
    alive(
      g,
      Effect.gen(function* () {
        yield* gate(g)
        yield* at(g, "beforeCommit")
        if (g.s.databaseDown) {
          count(g.s, "refused")
          return yield* Effect.fail(downError())
        }
        const stale = checkCommit(g, batch)
        // While the database hangs, the store's own timeout is short, so the hang reaches its timeout path; otherwise
        // the default, so a commit slowed by a loaded machine is not timed out.
        const exit = yield* store
          .commit(batch)
          .pipe(Effect.provideService(CommitTimeout, g.s.databaseHang ? hangTimeout : "30 seconds"), Effect.exit)
        yield* alive(g, Effect.void)
        if (exit._tag === "Failure") {
          const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (e?._tag === "Fenced") {
            count(g.s, "fenced", e.partitions.length)
            for (const p of batch.partitions)
              if (e.partitions.includes(p.partition)) g.s.fencedPairs.add(`${p.partition}/${p.epoch}`)
          } else if (e?._tag === "SqlError" && e.message.includes("timed out")) count(g.s, "timeout")
          return yield* exit
        }
        if (stale.length > 0) g.s.violations.push(`${g.inst.name}: a stale commit was accepted (partitions ${stale})`)
        yield* at(g, "afterCommit")
        if (g.s.ambiguousCommits > 0) {
          g.s.ambiguousCommits--
          count(g.s, "ambiguousCommit")
          return yield* Effect.fail(lostAnswer())
        }
      })
    )

  const claim: Store["Type"]["claim"] = (topic, partitions, owner, partitionCount) =>
    alive(
      g,
      Effect.gen(function* () {
        yield* gate(g)
        yield* at(g, "claim")
        if (g.s.databaseDown) return yield* Effect.fail(downError())
        // As for commits: while the database hangs the store's bound is short, so a hung claim reaches its timeout.
        const claims = yield* store.claim(topic, partitions, owner, partitionCount).pipe(
          Effect.provideService(CommitTimeout, g.s.databaseHang ? hangTimeout : "30 seconds"),
          Effect.tapError((e) =>
            Effect.sync(() => {
              if (e._tag === "SqlError" && e.message.includes("timed out")) count(g.s, "claimTimeout")
            })
          )
        )
        for (const [p, c] of claims) g.s.epochs.set(p, Math.max(c.epoch, g.s.epochs.get(p) ?? 0))
        yield* at(g, "afterClaim")
        if (g.s.ambiguousClaims > 0) {
          g.s.ambiguousClaims--
          count(g.s, "ambiguousClaim")
          return yield* Effect.fail(lostAnswer())
        }
        return claims
      })
    )

  const down = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    alive(
      g,
      Effect.suspend(
        (): Effect.Effect<A, E | SqlError.SqlError, R> => (g.s.databaseDown ? Effect.fail(downError()) : effect)
      )
    )
  return {
    ...store,
    commit,
    claim,
    candles: (q) => down(store.candles(q)),
    symbols: down(store.symbols),
    ping: down(store.ping)
  }
}

/** The bus as one instance sees it: a named member of its group; kills in the consumer and around DLQ publishes. */
export const faultyBus = (g: Generation, bus: BusShape, groups: MemoryGroups, label: string): BusShape => ({
  ...bus,
  ensureTopic: (topic, partitions) => alive(g, bus.ensureTopic(topic, partitions)),
  publish: (topic, messages) =>
    topic.endsWith(".dlq")
      ? Effect.zipRight(at(g, "dlqPublish"), Effect.zipLeft(bus.publish(topic, messages), at(g, "afterDlqPublish")))
      : alive(g, bus.publish(topic, messages)),
  consume: (options) =>
    groups.consumeAs(label, options).pipe(Stream.tap((e) => (e._tag === "Records" ? at(g, "consumer") : Effect.void))),
  commitOffsets: (topic, groupId, offsets) => alive(g, bus.commitOffsets(topic, groupId, offsets)),
  endOffsets: (topic) => alive(g, bus.endOffsets(topic))
})

/** The cache, down while the switchboard says so; a dead generation's writes are lost. */
export const faultyCache = (s: Switchboard, cache: LatestCacheShape, g?: Generation): LatestCacheShape => {
  const guard = <A, E, R>(effect: Effect.Effect<A, E | CacheUnavailable, R>) =>
    Effect.suspend(() =>
      s.cacheDown ? Effect.fail(new CacheUnavailable({ message: "injected: cache down" })) : effect
    )
  return {
    ...cache,
    write: (ticks, updates) =>
      g !== undefined && dead(g) ? Effect.void : guard(Effect.suspend(() => cache.write(ticks, updates))),
    getAll: guard(cache.getAll),
    get: (symbol) => guard(cache.get(symbol)),
    updates: (after) => Stream.unwrap(guard(Effect.sync(() => cache.updates(after)))),
    newest: guard(cache.newest),
    isUp: Effect.sync(() => !s.cacheDown)
  }
}

/** The SqlClient tag, for providing `faultySql` to the store. */
export const Sql = SqlClient.SqlClient
