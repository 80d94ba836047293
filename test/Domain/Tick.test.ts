import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, Option, Schema } from "effect"
import { Candle } from "../../src/Domain/Candle.js"
import { Gap } from "../../src/Domain/Gap.js"
import { IndicatorValuesSchema } from "../../src/Domain/Indicators.js"
import { decodeTick, Tick, TickJson } from "../../src/Domain/Tick.js"
import { decodeUpdate, UpdateJson } from "../../src/Domain/Update.js"

// The hand-written fast decoders must agree with the schemas: same verdict, same value, same JSON when encoded.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)
const params = { fastCheck: { seed, numRuns: 500 } }

const schemaTick = Schema.decodeEither(TickJson)
const schemaUpdate = Schema.decodeUnknownOption(UpdateJson)
const encodeUpdate = Schema.encodeSync(UpdateJson)

/** Values a field could hold in a record from outside: right, wrong type, out of range, not integer, huge. */
const anyValue = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    "",
    "BTC",
    "btc",
    "A".repeat(16),
    "x".repeat(101),
    "replay",
    "simulator",
    "coingecko",
    "nope",
    [],
    {}
  ),
  fc.constantFrom<unknown>(
    0,
    -0,
    -1,
    1,
    1.5,
    1e-300,
    8_640_000_000_000_000,
    8_640_000_000_000_001,
    1_700_000_000_000,
    1_700_000_000_000.5
  ),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 20 })
)

const tickFields = [
  "symbol",
  "coinId",
  "price",
  "volume",
  "volume24h",
  "marketCap",
  "change24h",
  "eventTime",
  "source",
  "ingestTime"
] as const
const candleFields = [
  "market",
  "symbol",
  "interval",
  "bucketStart",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "tickCount",
  "vwap",
  "status",
  "gaps",
  "firstTradeId",
  "lastTradeId"
] as const

/** What a candle's completeness fields could hold (docs/completeness.md): right, wrong, gaps with a bad element. */
const candleValue = fc.oneof(
  anyValue,
  fc.constantFrom<unknown>(
    "provisional",
    "final",
    "gap",
    "Final",
    [{ fromId: 1, toId: 2 }],
    [
      { fromId: 1, toId: 2 },
      { fromId: 5, toId: 9 }
    ],
    [{ fromId: 1, toId: 2, extra: true }],
    [{ fromId: -1, toId: 2 }],
    [{ fromId: 1.5, toId: 2 }],
    [{ fromId: 1 }],
    [null],
    [[1, 2]]
  )
)

/** A valid object, then some fields replaced, removed, or added. */
const mutated = (valid: fc.Arbitrary<Record<string, unknown>>, fields: ReadonlyArray<string>, values = anyValue) =>
  fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.constantFrom(...fields, "extra"), fc.option(values, { nil: undefined })), { maxLength: 3 })
    )
    .map(([v, changes]) => {
      const o: Record<string, unknown> = { ...v }
      for (const [k, value] of changes) {
        if (value === undefined) delete o[k]
        else o[k] = value
      }
      return o
    })

const validTick = Arbitrary.make(Tick).map((t) => JSON.parse(Schema.encodeSync(TickJson)(t)) as Record<string, unknown>)
const validCandle = Arbitrary.make(Candle).map((c): Record<string, unknown> => ({ ...c }))
const validGap = Arbitrary.make(Gap).map((g): Record<string, unknown> => ({ ...g }))
const validIndicators = Arbitrary.make(IndicatorValuesSchema).map((i): Record<string, unknown> => ({ ...i }))
const indicatorFields = ["sma20", "sma50", "ema12", "ema26", "rsi14", "bollinger"] as const

// JSON text: what the objects serialise to, plus 1e400 (parses to Infinity) spliced in, and plain garbage.
const asText = (o: unknown) =>
  fc.constantFrom(JSON.stringify(o), JSON.stringify(o).replace(/:(-?\d+(\.\d+)?(e[+-]?\d+)?)/, ":1e400"))
const tickText = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(validTick, mutated(validTick, tickFields)).chain(asText) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.constantFrom("null", "[]", "{}", "1", '"x"', "{", '{"price": -1}')) }
)

describe("fast decoders agree with the schemas", () => {
  it("the inputs hold both valid and invalid records (or the properties below prove little)", () => {
    const verdicts = fc.sample(tickText, { seed, numRuns: 1000 }).map((t) => Either.isRight(schemaTick(t)))
    expect(verdicts.filter((ok) => ok).length).toBeGreaterThan(200)
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThan(200)
  })

  it.prop(
    "decodeTick",
    [tickText],
    ([text]) => {
      const fast = decodeTick(text)
      const slow = schemaTick(text)
      expect(Either.isRight(fast)).toBe(Either.isRight(slow))
      if (Either.isRight(fast) && Either.isRight(slow)) {
        expect(fast.right).toBeInstanceOf(Tick)
        expect(fast.right).toEqual(slow.right)
        expect(JSON.stringify(fast.right)).toBe(Schema.encodeSync(TickJson)(slow.right))
      }
      if (Either.isLeft(fast) && Either.isLeft(slow)) expect(fast.left.message).toBe(slow.left.message)
    },
    params
  )

  const candleUpdate = fc
    .tuple(
      fc.oneof(validCandle, mutated(validCandle, candleFields, candleValue)),
      fc.oneof(validIndicators, mutated(validIndicators, indicatorFields), anyValue)
    )
    .map(([candle, indicators]) => ({ _tag: "candle", candle, indicators }))
  // One completeness field of a valid candle replaced, beside valid indicators: the hand check alone decides.
  const completenessChanged = fc
    .tuple(validCandle, fc.constantFrom("status", "gaps", "firstTradeId", "lastTradeId"), candleValue, validIndicators)
    .map(([candle, field, value, indicators]) => ({
      _tag: "candle",
      candle: { ...candle, [field]: value },
      indicators
    }))
  const candleText = fc.oneof(candleUpdate, completenessChanged).chain(asText)
  const updateText = fc
    .oneof(
      fc.oneof(validTick, mutated(validTick, tickFields)).map((tick) => ({ _tag: "tick", tick })),
      candleUpdate,
      fc.oneof(validGap, mutated(validGap, ["type", "market", "fromId", "toId"])).map((gap) => ({ _tag: "gap", gap })),
      fc.record({ _tag: anyValue, tick: anyValue, candle: anyValue, indicators: anyValue })
    )
    .chain(asText)

  it("the candle inputs hold both valid and invalid candles", () => {
    const verdicts = fc.sample(candleText, { seed, numRuns: 1000 }).map((t) => Option.isSome(schemaUpdate(t)))
    // About 11% are valid (an update needs both a valid candle and valid indicators).
    expect(verdicts.filter((ok) => ok).length).toBeGreaterThan(50)
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThan(200)
  })

  const agree = (text: string) => {
    const fast = decodeUpdate(text)
    const slow = schemaUpdate(text)
    expect(Option.isSome(fast)).toBe(Option.isSome(slow))
    if (Option.isSome(fast) && Option.isSome(slow)) {
      expect(fast.value).toEqual(slow.value)
      expect(JSON.stringify(fast.value)).toBe(encodeUpdate(slow.value))
    }
  }

  it.prop("decodeUpdate of candle updates (status, gaps, trade ids)", [candleText], ([text]) => agree(text), params)

  it.prop(
    "decodeUpdate, and JSON.stringify of an update is its schema encoding",
    [updateText],
    ([text]) => {
      const fast = decodeUpdate(text)
      const slow = schemaUpdate(text)
      expect(Option.isSome(fast)).toBe(Option.isSome(slow))
      if (Option.isSome(fast) && Option.isSome(slow)) {
        expect(fast.value).toEqual(slow.value)
        expect(JSON.stringify(fast.value)).toBe(encodeUpdate(slow.value))
      }
    },
    params
  )
})
