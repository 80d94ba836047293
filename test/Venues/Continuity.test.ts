import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Continuity from "../../src/Venues/Continuity.js"

// Continuity on random id sequences: what a connection might deliver (in order, with skips, resent ids and small
// reorders). Checked against what must hold of any output, not against a second copy of the rules.

// Failures also print fast-check's own seed and path; PROPERTY_SEED=<n> replays a run.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 300 } }

/** A delivery: the true ids from `start`, some skipped, some sent again later, some swapped with the next. */
const deliveryArb = fc
  .record({
    start: fc.integer({ min: 0, max: 1_000_000 }),
    steps: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant({ _tag: "next" as const }) },
        { weight: 1, arbitrary: fc.record({ _tag: fc.constant("skip" as const), n: fc.integer({ min: 1, max: 20 }) }) },
        {
          weight: 1,
          arbitrary: fc.record({ _tag: fc.constant("resend" as const), back: fc.integer({ min: 0, max: 10 }) })
        },
        { weight: 1, arbitrary: fc.constant({ _tag: "swap" as const }) }
      ),
      { maxLength: 200 }
    )
  })
  .map(({ start, steps }) => {
    const out: Array<number> = []
    let id = start
    for (const s of steps) {
      if (s._tag === "next") out.push(id++)
      else if (s._tag === "skip") id += s.n
      else if (s._tag === "resend") {
        const earlier = out[out.length - 1 - s.back]
        if (earlier !== undefined) out.push(earlier)
      } else {
        out.push(id + 1, id)
        id += 2
      }
    }
    return out
  })

/** Runs a delivery through continuity as the source does: a jump is filled, then its trade delivered. */
const run = (ids: ReadonlyArray<number>) => {
  let state = Continuity.unknown
  const delivered: Array<number> = []
  const jumps: Array<[number, number]> = []
  let duplicates = 0
  for (const id of ids) {
    const v = Continuity.classify(state, id)
    if (v._tag === "Duplicate") {
      state = Continuity.dropped(state)
      duplicates++
      continue
    }
    if (v._tag === "Jump") jumps.push([v.fromId, v.toId])
    delivered.push(id)
    state = Continuity.deliver(state, { id, time: id })
  }
  return { delivered, jumps, duplicates, state }
}

describe("Continuity", () => {
  it.prop(
    "delivered ids rise; they and the jumps cover first..max once; everything else is a counted duplicate",
    [deliveryArb],
    ([ids]) => {
      const { delivered, jumps, duplicates, state } = run(ids)
      for (let i = 1; i < delivered.length; i++) expect(delivered[i]).toBeGreaterThan(delivered[i - 1] ?? 0)
      expect(delivered.length + duplicates).toBe(ids.length)
      if (ids.length === 0) return
      const first = ids[0] ?? 0
      const max = Math.max(...ids)
      const covered = [
        ...delivered,
        ...jumps.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, k) => from + k))
      ]
      expect([...covered].sort((a, b) => a - b)).toEqual(Array.from({ length: max - first + 1 }, (_, k) => first + k))
      expect(Continuity.lastOf(state)?.id).toBe(max)
      expect(state._tag === "Known" && state.duplicates).toBe(duplicates)
      // A resent id is never delivered twice.
      expect(new Set(delivered).size).toBe(delivered.length)
    },
    params
  )

  it("the first trade of a run is accepted; then next, duplicate and jump", () => {
    expect(Continuity.classify(Continuity.unknown, 42)).toEqual({ _tag: "Next" })
    const s = Continuity.known({ id: 10, time: 5 })
    expect(Continuity.classify(s, 11)).toEqual({ _tag: "Next" })
    expect(Continuity.classify(s, 10)).toEqual({ _tag: "Duplicate" })
    expect(Continuity.classify(s, 3)).toEqual({ _tag: "Duplicate" })
    expect(Continuity.classify(s, 14)).toEqual({ _tag: "Jump", fromId: 11, toId: 13, after: { id: 10, time: 5 } })
    // A late delivery never moves the state back.
    expect(Continuity.deliver(s, { id: 9, time: 1 })).toEqual(s)
  })
})
