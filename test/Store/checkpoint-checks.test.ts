import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Candle } from "../../src/Domain/Candle.js"
import { Gap } from "../../src/Domain/Gap.js"
import type { Market } from "../../src/Domain/Market.js"
import * as Store from "../../src/Store/Store.js"
import { type Rig, startRig } from "../Http/api-rig.js"
import { candleCheck } from "../support/Checks.js"

// The checkpoint transaction's completeness rows (docs/completeness.md, "Postgres") on the embedded Postgres:
// checks upserted, a late gap marking the candles that closed before it, and a replay after a crash writing the same.

const t0 = Date.UTC(2026, 0, 10, 12, 0, 0)
const min = 60_000
const market = "binance:BTC-USDT" as Market
const noIndicators = { sma20: null, sma50: null, ema12: null, ema26: null, rsi14: null, bollinger: null }

const candle = (interval: "1m" | "5m", bucketStart: number) => ({
  candle: new Candle({
    market,
    symbol: "BTC",
    interval,
    bucketStart,
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: 3,
    tickCount: 4,
    vwap: 1.2,
    status: interval === "5m" ? "provisional" : "final",
    gaps: [],
    firstTradeId: 1,
    lastTradeId: 4
  }),
  indicators: noIndicators
})

const lateGap = new Gap({
  type: "gap",
  market,
  fromId: 500,
  toId: 502,
  // the last trade before the gap in minute 1, the first after it in minute 2: minutes 1 and 2 and the 5m bucket
  fromTime: t0 + min + 30_000,
  toTime: t0 + 2 * min + 10_000,
  reason: "not-served",
  detectedAt: t0 + 3 * min
})

let rig: Rig
beforeAll(async () => {
  rig = await startRig(t0)
}, 120_000)
afterAll(() => rig.close())

const checkRows = Effect.flatMap(
  SqlClient.SqlClient,
  (
    sql
  ) => sql`SELECT market, (extract(epoch FROM bucket_start) * 1000)::float8 AS bucket_start, result, mismatched, ours, theirs,
    gaps, (extract(epoch FROM checked_at) * 1000)::float8 AS checked_at FROM candle_checks ORDER BY bucket_start`
)
const candleRows = Effect.flatMap(
  SqlClient.SqlClient,
  (
    sql
  ) => sql`SELECT interval, ((extract(epoch FROM bucket_start) * 1000 - ${t0}) / 60000)::int AS minute, status, gaps,
    open, close FROM candles WHERE market = ${market} ORDER BY interval, bucket_start`
)

const commit = (epoch: number, nextOffset: number, part: Partial<Store.PartitionCheckpoint>) =>
  Effect.flatMap(Store.Store, (store) =>
    store.commit({
      topic: "prices",
      owner: "test",
      partitions: [
        {
          partition: 0,
          epoch,
          nextOffset,
          state: "{}",
          ticks: [],
          candles: [],
          deadLetters: [],
          gaps: [],
          checks: [],
          ...part
        }
      ]
    })
  )
const claim = Effect.flatMap(Store.Store, (store) =>
  Effect.map(store.claim("prices", [0], "test"), (claims) => claims.get(0)!.epoch)
)

describe("checkpoint: checks and late gaps", () => {
  it("writes checks, marks the closed candles a late gap touches, and a replay after a crash writes the same", async () => {
    const epoch = await rig.run(claim)
    // An earlier checkpoint closed minutes 0-2 (final) with the 5m bucket still open.
    await rig.run(
      commit(epoch, 10, {
        candles: [candle("1m", t0), candle("1m", t0 + min), candle("1m", t0 + 2 * min), candle("5m", t0)]
      })
    )
    const checks = [
      candleCheck(market, t0, "match"),
      candleCheck(market, t0 + min, "mismatch"),
      candleCheck(market, t0 + 2 * min, "gap"),
      candleCheck(market, t0 + 3 * min, "missing")
    ]
    const batch = { gaps: [lateGap], checks, candles: [candle("1m", t0 + 3 * min)] }
    await rig.run(commit(epoch, 20, batch))
    const written = { checks: await rig.run(checkRows), candles: await rig.run(candleRows) }

    const ref = [{ fromId: 500, toId: 502 }]
    expect(written.candles).toEqual([
      { interval: "1m", minute: 0, status: "final", gaps: [], open: 1, close: 1.5 },
      { interval: "1m", minute: 1, status: "gap", gaps: ref, open: 1, close: 1.5 },
      { interval: "1m", minute: 2, status: "gap", gaps: ref, open: 1, close: 1.5 },
      { interval: "1m", minute: 3, status: "final", gaps: [], open: 1, close: 1.5 },
      // still open: it lists the gap and stays provisional
      { interval: "5m", minute: 0, status: "provisional", gaps: ref, open: 1, close: 1.5 }
    ])
    expect(written.checks.map((r) => [Number(r["bucketStart"]) - t0, r["result"], r["mismatched"]])).toEqual([
      [0, "match", []],
      [min, "mismatch", ["close", "lastTradeId"]],
      [2 * min, "gap", []],
      [3 * min, "missing", []]
    ])
    for (const [i, c] of checks.entries()) {
      const row = written.checks[i]!
      expect(row["ours"]).toEqual(c.ours)
      expect(row["theirs"]).toEqual({ ...c.theirs })
      expect(row["gaps"]).toEqual(c.gaps)
      expect(Number(row["checkedAt"])).toBe(c.checkedAt)
      expect(row["market"]).toBe(market)
    }

    // A crash after the commit, before anything else: the next owner claims (epoch + 1) and reads the same records
    // again from the previous checkpoint's offset: the same candles, gap and checks, written once, the same values.
    const next = await rig.run(claim)
    expect(next).toBe(epoch + 1)
    await rig.run(commit(next, 20, batch))
    expect({ checks: await rig.run(checkRows), candles: await rig.run(candleRows) }).toEqual(written)
    // and the stale owner's copy of it is refused, writing nothing
    const stale = await rig.run(Effect.either(commit(epoch, 30, { checks: [candleCheck(market, t0, "mismatch")] })))
    expect(stale._tag).toBe("Left")
    expect(await rig.run(checkRows)).toEqual(written.checks)
  }, 60_000)
})
