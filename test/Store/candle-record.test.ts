import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, FastCheck as fc, Schema } from "effect"
import { CandleRecord, decodeCandleRecords, isCandleRecord } from "../../src/Store/CandleRecord.js"

// The hand-written check of the candles query's rows must never pass what the schema refuses, and must pass the
// schema's valid rows (else it proves nothing and the fast path is never taken).
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 500 } }

const fields = Object.keys(CandleRecord.fields)
const valid = Arbitrary.make(CandleRecord).map((r): Record<string, unknown> => ({ ...r }))
const anyValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, "", "1m", "2m", "final", "gone", [], [{ fromId: 1, toId: 2 }], {}),
  fc.constantFrom<unknown>([{ fromId: -1, toId: 2 }], [{ fromId: 1.5, toId: 2 }], [{ fromId: 1, toId: 2, x: 1 }]),
  fc.double(),
  fc.string()
)
const mutated = fc
  .tuple(
    valid,
    fc.array(fc.tuple(fc.constantFrom(...fields, "extra"), fc.option(anyValue, { nil: undefined })), { maxLength: 3 })
  )
  .map(([v, changes]) => {
    const o: Record<string, unknown> = { ...v }
    for (const [k, value] of changes) {
      if (value === undefined) delete o[k]
      else o[k] = value
    }
    return o
  })
const isSchema = Schema.is(CandleRecord)

describe("isCandleRecord", () => {
  it.prop(
    "passes every row the schema decodes from the generator of valid rows",
    [valid],
    ([row]) => {
      expect(isSchema(row)).toBe(true)
      expect(isCandleRecord(row)).toBe(true)
    },
    params
  )

  it.prop(
    "never passes a row the schema refuses",
    [mutated],
    ([row]) => {
      if (isCandleRecord(row)) expect(isSchema(row)).toBe(true)
    },
    params
  )

  it("the mutated rows hold both valid and invalid ones", () => {
    const verdicts = fc.sample(mutated, { seed, numRuns: 1000 }).map(isSchema)
    expect(verdicts.filter((ok) => ok).length).toBeGreaterThan(100)
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThan(100)
  })

  it.effect.prop(
    "decodeCandleRecords answers as the schema does",
    [fc.array(mutated, { maxLength: 4 })],
    ([rows]) =>
      Effect.gen(function* () {
        const fast = yield* Effect.either(decodeCandleRecords(rows))
        const slow = Schema.decodeUnknownEither(Schema.Array(CandleRecord))(rows)
        expect(Either.isRight(fast)).toBe(Either.isRight(slow))
        if (Either.isRight(fast) && Either.isRight(slow))
          // The same fields and values (the schema's copy drops unknown keys; toCandleRow reads only the known ones).
          for (const [i, r] of fast.right.entries())
            for (const k of fields) expect((r as never)[k]).toEqual((slow.right[i] as never)[k])
      }),
    { fastCheck: { seed, numRuns: 100 } }
  )
})
