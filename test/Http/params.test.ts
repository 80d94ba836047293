import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { anchored, IntParam, rangePattern, TimeParam } from "../../src/Http/Params.js"

// The query parameters' patterns (what the OpenAPI document shows) against what the server decodes: the two agree.

describe("integer parameters", () => {
  it.each([
    [1, 5000],
    [1, 500],
    [0, 0],
    [7, 7],
    [3, 12],
    [1, 9],
    [10, 10_000],
    [0, 59]
  ])("the pattern for %i..%i admits exactly the integers in range, written plainly", (min, max) => {
    const re = anchored(rangePattern(min, max))
    const decode = Schema.decodeUnknownEither(IntParam(min, max))
    const wrong: Array<number> = []
    for (let n = 0; n <= 20_000; n++) {
      const want = n >= min && n <= max
      if (re.test(String(n)) !== want || Either.isRight(decode(String(n))) !== want) wrong.push(n)
    }
    expect(wrong).toEqual([])
    for (const s of ["", "01", "+1", "-1", "1.0", "1e3", " 1", "1 ", "1\n", "0x1", "00"]) {
      expect([s, re.test(s) || Either.isRight(decode(s))]).toEqual([s, false])
    }
  })
})

const utc = (...parts: [number, number, number, number?, number?, number?, number?]) =>
  Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3] ?? 0, parts[4] ?? 0, parts[5] ?? 0, parts[6] ?? 0)

describe("time parameters", () => {
  const decode = Schema.decodeUnknownEither(TimeParam)
  it("takes epoch ms and ISO 8601 dates and date-times with a zone, from 1971", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["0", 0],
      ["007", 7],
      ["999999999999999", 999_999_999_999_999],
      ["1971-01-01", utc(1971, 1, 1)],
      ["2025-11-20T12:00:00Z", utc(2025, 11, 20, 12)],
      ["2025-11-20T12:00Z", utc(2025, 11, 20, 12)],
      ["2025-11-20T12:00:01.5Z", utc(2025, 11, 20, 12, 0, 1, 500)],
      ["2025-11-20T12:00:01.123Z", utc(2025, 11, 20, 12, 0, 1, 123)],
      ["2025-11-20T13:00+01:00", utc(2025, 11, 20, 12)],
      ["2025-11-20T00:30-02:30", utc(2025, 11, 20, 3)],
      // A day past its month's end rolls over, as the pattern admits it.
      ["2025-02-30", utc(2025, 3, 2)],
      ["9999-12-31T23:59:59.999-23:59", utc(9999, 12, 31, 23, 59, 59, 999) + (23 * 60 + 59) * 60_000]
    ]
    for (const [s, ms] of cases) expect([s, decode(s)]).toEqual([s, Either.right(ms)])
  })

  it("refuses everything else", () => {
    const bad = [
      "",
      "1234567890123456",
      "-1",
      "1.5",
      "1e3",
      "yesterday",
      "1970-06-01",
      "2025-13-01",
      "2025-00-10",
      "2025-01-32",
      "2025-01-01T24:00Z",
      "2025-01-01T12:00:00",
      "2025-01-01t12:00z",
      "2025-01-01T12:00:00.1234Z",
      "2025-01-01T12:00:60Z",
      "2025-01-01 12:00Z",
      "2025-01-01\n",
      "1\n"
    ]
    for (const s of bad) expect([s, Either.isLeft(decode(s))]).toEqual([s, true])
  })
})
