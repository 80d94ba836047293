import { Effect, FastCheck as fc } from "effect"
import { partitionFor } from "../../../src/Bus/Partitioner.js"
import { count, type Instance, type KillPoint, killPoints, type Switchboard } from "../../support/Faults.js"
import { label, type Shared } from "./instances.js"

/** One step of a fault schedule, run between publishes while the processors consume. */
export type Step =
  | { readonly _tag: "Publish"; readonly count: number }
  | { readonly _tag: "Sleep"; readonly millis: number }
  /** An outage for `millis`, in the background (outages overlap each other and the later steps). */
  | { readonly _tag: "Outage"; readonly what: Outage; readonly millis: number }
  /** The next commit or claim succeeds in the database and the client sees an error. */
  | { readonly _tag: "LostAnswer"; readonly what: "commit" | "claim" }
  /** The instance is killed the `nth` time it reaches `point` (armed until the schedule has drained). */
  | { readonly _tag: "Kill"; readonly instance: number; readonly point: KillPoint; readonly nth: number }
  /**
   * SIGSTOP past the session timeout: the instance's database calls wait while `count` more records arrive, the group
   * gives its partitions to the others, which claim them; then it resumes, and its stale commit must be refused.
   */
  | { readonly _tag: "Stall"; readonly instance: number; readonly count: number }

/** The cache down; the database down (calls fail at once); the database hanging (until the store's timeout). */
export type Outage = "cache" | "database" | "hang"

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 30 }).map((count) => ({ _tag: "Publish" as const, count })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }).map((millis) => ({ _tag: "Sleep" as const, millis })) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        what: fc.constantFrom("cache" as const, "database" as const, "hang" as const),
        millis: fc.integer({ min: 10, max: 150 })
      })
      // A hang outlasts the store's commit timeout while it hangs (hangTimeout), so the timeout path runs.
      .map((o) => ({ _tag: "Outage" as const, ...o, millis: o.what === "hang" ? 350 + o.millis : o.millis }))
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom("commit" as const, "claim" as const)
      .map((what) => ({ _tag: "LostAnswer" as const, what }))
  },
  {
    weight: 10,
    arbitrary: fc
      .record({ instance: fc.nat(2), point: fc.constantFrom(...killPoints), nth: fc.constantFrom(1, 1, 2) })
      .map((k) => ({ _tag: "Kill" as const, ...k }))
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ instance: fc.nat(2), count: fc.integer({ min: 1, max: 30 }) })
      .map((k) => ({ _tag: "Stall" as const, ...k }))
  }
)

export const partitions = 3

/** Polls `cond` every 5 ms, at most `max` times: generous bounds, never a timing assertion. */
export const waitUntil = (cond: () => boolean, max: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < max && !cond(); i++) yield* Effect.sleep(5)
    return cond()
  })

export interface Run {
  readonly sh: Shared
  readonly topic: string
  readonly groupId: string
  readonly instances: ReadonlyArray<Instance>
  /** Publishes the next `n` records of the input; returns their keys. */
  readonly publish: (n: number) => Effect.Effect<ReadonlyArray<string>, unknown>
}

const stall = (r: Run, inst: Instance, n: number) =>
  Effect.gen(function* () {
    const { s } = r.sh
    inst.stopped = true
    const keys = yield* r.publish(n)
    const held = [...r.sh.groups.assignment(r.topic, r.groupId)].filter(([, l]) => l === label(inst)).map(([p]) => p)
    // Until it holds uncommitted work (a checkpoint waiting), within a generous bound, when records went its way.
    const mine = keys.some((k) => held.includes(partitionFor(k, partitions)))
    const holding = mine && (yield* waitUntil(() => inst.blocked > 0, 400))
    const before = new Map(held.map((p) => [p, s.epochs.get(p) ?? 0] as const))
    if (yield* r.sh.groups.expire(r.topic, r.groupId, label(inst))) {
      count(s, "expired")
      if (holding) count(s, "expired holding work")
      // The others claim its partitions (epoch + 1): from now on its checkpoint is stale.
      if (!s.databaseDown) yield* waitUntil(() => [...before].every(([p, e]) => (s.epochs.get(p) ?? 0) > e), 2000)
    }
    inst.stopped = false
  })

const outage = (s: Switchboard, what: Outage, on: boolean) => {
  const d = on ? 1 : -1
  if (what === "cache") s.cacheDown = (s.outages.cache += d) > 0
  if (what === "database") s.databaseDown = (s.outages.database += d) > 0
  if (what === "hang") s.databaseHang = (s.outages.hang += d) > 0
}

/** Runs one step; outages go on in the background, as forked fibers of the returned scope. */
export const runStep = (r: Run, step: Step) =>
  Effect.gen(function* () {
    const { s } = r.sh
    const inst = (i: number) => r.instances[i % r.instances.length]!
    switch (step._tag) {
      case "Publish":
        return void (yield* r.publish(step.count))
      case "Sleep":
        return yield* Effect.sleep(step.millis)
      case "Outage":
        outage(s, step.what, true)
        return void (yield* Effect.forkScoped(
          Effect.ensuring(
            Effect.sleep(step.millis),
            Effect.sync(() => outage(s, step.what, false))
          )
        ))
      case "LostAnswer":
        if (step.what === "commit") s.ambiguousCommits++
        else s.ambiguousClaims++
        return
      case "Kill":
        // On the first instance with no kill armed (one armed kill per instance at a time).
        for (let i = 0; i < r.instances.length; i++) {
          const target = inst(step.instance + i)
          if (target.kill !== undefined) continue
          target.kill = { point: step.point, countdown: step.nth }
          // A claim needs a rebalance: another member's session lapses, so its partitions go to the others.
          if (step.point === "claim" || step.point === "afterClaim")
            yield* r.sh.groups.expire(r.topic, r.groupId, label(inst(step.instance + i + 1)))
          break
        }
        return
      case "Stall":
        return yield* stall(r, inst(step.instance), step.count)
    }
  })

/** Nothing left armed (after the drain: kills and lost answers stay armed through it, outages end by themselves). */
export const disarm = (r: Run) => {
  r.sh.s.ambiguousCommits = 0
  r.sh.s.ambiguousClaims = 0
  for (const i of r.instances) {
    if (i.kill !== undefined) count(r.sh.s, `unfired:${i.kill.point}`)
    i.kill = undefined
    i.stopped = false
  }
}
