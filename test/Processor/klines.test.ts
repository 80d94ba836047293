import { SqlClient } from "@effect/sql"
import { ConfigProvider, Effect, Fiber, Layer, Logger, LogLevel, Metric, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Bus, type BusShape } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { Gap, GapJson } from "../../src/Domain/Gap.js"
import { KlineJson } from "../../src/Domain/Kline.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as Processor from "../../src/Processor.js"
import { type Rig, startRig } from "../Http/api-rig.js"
import { kline } from "../support/Checks.js"

// Klines on the bus through the real processor (in-memory bus, embedded Postgres): each checked against our final 1m
// candle and stored in candle_checks by the checkpoint, counted after the commit; a bad kline is a dead letter; a gap
// that arrives after a candle closed marks the stored candle (status gap), its values unchanged.

const t0 = Date.UTC(2025, 0, 6, 10, 0, 0)
const min = 60_000
const market = "binance:KL-USDT" as Market
const topic = "klines"

const trade = (id: number, at: number, price: number, volume: number) =>
  new Tick({
    symbol: "KL",
    coinId: "KLUSDT",
    price,
    volume,
    eventTime: at,
    source: "binance",
    ingestTime: at,
    market,
    tradeId: id,
    side: "buy"
  })
const tickRecord = (t: Tick) => ({ key: market, value: Schema.encodeSync(TickJson)(t) })

let rig: Rig
let bus: BusShape
beforeAll(async () => {
  rig = await startRig(t0 + 86_400_000)
  bus = await Effect.runPromise(MemoryBus.make({ maxBatch: 4 }))
}, 120_000)
afterAll(() => rig.close())

const counted = (result: string) =>
  Effect.map(Metric.value(Metric.tagged(Processor.candleChecksTotal, "result", result)), (s) => s.count)

describe("processor: klines checked against our final 1m candles", () => {
  it("stores match and mismatch checks with the checkpoint, counts them, and marks a candle a late gap touches", async () => {
    const minute0 = [trade(1, t0 + 1_000, 100.5, 1), trade(2, t0 + 20_000, 101, 0.5), trade(3, t0 + 50_000, 99.25, 2)]
    const minute1 = [trade(4, t0 + min + 5_000, 100, 1), trade(5, t0 + min + 40_000, 100.75, 1)]
    const later = [trade(8, t0 + 2 * min + 10_000, 100, 1), trade(9, t0 + 3 * min + 30_000, 100, 1)]
    const theirs0 = kline(market, t0, {
      open: "100.5",
      high: "101",
      low: "99.25",
      close: "99.25",
      volume: "3.5",
      firstTradeId: 1,
      lastTradeId: 3,
      tradeCount: 3
    })
    // the venue's minute 1 says a different close: a mismatch
    const theirs1 = kline(market, t0 + min, {
      open: "100",
      high: "100.75",
      low: "100",
      close: "100.5",
      volume: "2",
      firstTradeId: 4,
      lastTradeId: 5,
      tradeCount: 2
    })
    // ids 6-7 missing for good, between trade 5 (minute 1) and trade 8 (minute 2); it arrives after minute 1 closed
    const gap = {
      type: "gap" as const,
      market,
      fromId: 6,
      toId: 7,
      fromTime: t0 + min + 40_000,
      toTime: t0 + 2 * min + 10_000,
      reason: "not-served" as const,
      detectedAt: t0 + 4 * min
    }
    const records = [
      ...minute0.map(tickRecord),
      ...minute1.map(tickRecord),
      { key: market, value: Schema.encodeSync(KlineJson)(theirs0) }, // while our minute 0 is open: kept, checked at its close
      { key: market, value: JSON.stringify({ ...theirs1, open: "1e3" }) }, // malformed: a dead letter
      ...later.map(tickRecord), // the watermark passes minutes 0, 1 and 2
      { key: market, value: Schema.encodeSync(KlineJson)(theirs1) }, // after our minute 1 closed: checked at once
      { key: market, value: Schema.encodeSync(GapJson)(new Gap(gap)) }
    ]
    const before = { match: await rig.run(counted("match")), mismatch: await rig.run(counted("mismatch")) }
    const config = ConfigProvider.fromMap(
      new Map([
        ["KAFKA_TOPIC", topic],
        ["KAFKA_PARTITIONS", "1"],
        ["CHECKPOINT_INTERVAL", "20 millis"],
        ["ALLOWED_LATENESS", "60 seconds"]
      ])
    )
    const fiber = await rig.run(
      Processor.run.pipe(
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.scoped,
        Effect.provide(Layer.succeed(Bus, bus)),
        Effect.withConfigProvider(config),
        Effect.forkDaemon
      )
    )
    try {
      await rig.run(bus.publish(topic, records))
      const sql = await rig.run(SqlClient.SqlClient)
      for (let i = 0; i < 3000; i++) {
        const rows = await rig.run(sql<{ nextOffset: string }>`SELECT next_offset FROM processor_checkpoints
          WHERE topic = ${topic}`)
        if (Number(rows[0]?.nextOffset) === records.length) break
        await new Promise((r) => setTimeout(r, 10))
      }
      const checks = await rig.run(sql<{ minute: number; result: string; mismatched: Array<string>; ours: unknown }>`
        SELECT ((extract(epoch FROM bucket_start) * 1000 - ${t0}) / 60000)::int AS minute, result, mismatched, ours
        FROM candle_checks WHERE market = ${market} ORDER BY bucket_start`)
      expect(checks.map((c) => [c.minute, c.result, c.mismatched])).toEqual([
        [0, "match", []],
        [1, "mismatch", ["close"]]
      ])
      expect(checks[1]!.ours).toEqual({
        open: 100,
        high: 100.75,
        low: 100,
        close: 100.75,
        volume: 2,
        tickCount: 2,
        firstTradeId: 4,
        lastTradeId: 5
      })
      expect(await rig.run(counted("match"))).toBe(before.match + 1)
      expect(await rig.run(counted("mismatch"))).toBe(before.mismatch + 1)
      const dead = await rig.run(sql<{ reason: string }>`SELECT reason FROM dead_letters WHERE topic = ${topic}`)
      expect(dead.map((d) => d.reason)).toEqual(["decode"])
      // minute 1 closed before the gap came: marked gap in Postgres, its values as they were; minute 2, open, lists it
      const candles = await rig.run(sql<{ minute: number; status: string; gaps: unknown; close: number }>`
        SELECT ((extract(epoch FROM bucket_start) * 1000 - ${t0}) / 60000)::int AS minute, status, gaps, close
        FROM candles WHERE market = ${market} AND interval = '1m' ORDER BY bucket_start`)
      const ref = [{ fromId: 6, toId: 7 }]
      expect(candles).toEqual([
        { minute: 0, status: "final", gaps: [], close: 99.25 },
        { minute: 1, status: "gap", gaps: ref, close: 100.75 },
        { minute: 2, status: "provisional", gaps: ref, close: 100 }, // still open (the watermark is at 2:30)
        { minute: 3, status: "provisional", gaps: [], close: 100 }
      ])
    } finally {
      await rig.run(Fiber.interrupt(fiber))
    }
  }, 120_000)
})
