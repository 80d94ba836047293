import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CheckResult } from "../../src/Domain/Completeness.js"
import * as Store from "../../src/Store/Store.js"
import { candleCheck } from "../support/Checks.js"
import { type Rig, startRig } from "./api-rig.js"

// GET /api/markets/:market/checks in process (embedded Postgres), rows written by the checkpoint transaction.

const now = Date.UTC(2026, 0, 10, 12, 0, 0)
const min = 60_000
const market = "binance:BTC-USDT"

// Minutes before now and their results; one minute of another market, which must never show.
const results: ReadonlyArray<readonly [number, CheckResult]> = [
  [10, "match"],
  [9, "match"],
  [8, "mismatch"],
  [7, "match"],
  [6, "gap"],
  [5, "missing"],
  [4, "match"],
  [3, "mismatch"]
]
const startOf = (ago: number) => now - ago * min

let rig: Rig
beforeAll(async () => {
  rig = await startRig(now)
  await rig.run(
    Effect.gen(function* () {
      const store = yield* Store.Store
      const epoch = (yield* store.claim("prices", [0], "test")).get(0)!.epoch
      const checks = [
        ...results.map(([ago, result]) => candleCheck(market, startOf(ago), result)),
        candleCheck("coinbase:BTC-USD", startOf(4), "mismatch")
      ]
      yield* store.commit({
        topic: "prices",
        owner: "test",
        partitions: [
          { partition: 0, epoch, nextOffset: 1, state: "{}", ticks: [], candles: [], deadLetters: [], gaps: [], checks }
        ]
      })
    })
  )
}, 120_000)
afterAll(() => rig.close())

const starts = (body: Record<string, unknown>) =>
  (body["checks"] as Array<{ bucketStart: number; result: string }>).map((c) => [(now - c.bucketStart) / min, c.result])

describe("GET /api/markets/:market/checks", () => {
  it("lists a market's checks newest first as CandleCheck records, with the counts of each result", async () => {
    const { status, body } = await rig.api()(`/api/markets/${market}/checks`)
    expect(status).toBe(200)
    expect(body["market"]).toBe(market)
    expect(body["summary"]).toEqual({ match: 4, mismatch: 2, gap: 1, missing: 1 })
    expect(starts(body)).toEqual([...results].sort((a, b) => a[0] - b[0]))
    const mismatch = (body["checks"] as Array<unknown>)[0]
    expect(mismatch).toEqual(JSON.parse(JSON.stringify(candleCheck(market, startOf(3), "mismatch"))))
  })

  it("keeps to [from, to), limit and result; the summary counts the whole window whatever limit and result say", async () => {
    const api = rig.api()
    const window = `from=${startOf(8)}&to=${new Date(startOf(4)).toISOString()}`
    const inWindow = await api(`/api/markets/${market}/checks?${window}`)
    expect(starts(inWindow.body)).toEqual([
      [5, "missing"],
      [6, "gap"],
      [7, "match"],
      [8, "mismatch"]
    ])
    expect(inWindow.body["summary"]).toEqual({ match: 1, mismatch: 1, gap: 1, missing: 1 })
    const matches = await api(`/api/markets/${market}/checks?result=match&limit=3`)
    expect(starts(matches.body)).toEqual([
      [4, "match"],
      [7, "match"],
      [9, "match"]
    ])
    expect(matches.body["summary"]).toEqual({ match: 4, mismatch: 2, gap: 1, missing: 1 })
  })

  it("answers an empty list for a market without checks, as the gaps endpoint does", async () => {
    const { status, body } = await rig.api()("/api/markets/kraken:ETH-USD/checks")
    expect(status).toBe(200)
    expect(body).toEqual({
      market: "kraken:ETH-USD",
      summary: { match: 0, mismatch: 0, gap: 0, missing: 0 },
      checks: []
    })
  })

  it("answers 400 for a bad market, limit, result or range", async () => {
    const api = rig.api()
    for (const path of [
      "/api/markets/nasdaq:BTC-USD/checks",
      `/api/markets/${market}/checks?limit=0`,
      `/api/markets/${market}/checks?limit=5001`,
      `/api/markets/${market}/checks?result=ok`,
      `/api/markets/${market}/checks?from=yesterday`,
      `/api/markets/${market}/checks?from=${now}&to=${now}`
    ]) {
      expect([path, (await api(path)).status]).toEqual([path, 400])
    }
  })
})
