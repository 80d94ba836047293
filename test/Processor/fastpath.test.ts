import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, Logger, LogLevel, Metric, Schema, Stream } from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { LatestCache } from "../../src/Cache/LatestCache.js"
import { IndicatorValuesSchema } from "../../src/Domain/Indicators.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"
import * as Processor from "../../src/Processor.js"
import { Store } from "../../src/Store/Store.js"

// The fast path behind a stalled cache: while a write hangs, what piles up is coalesced into the next write (the
// latest tick per symbol, each candle once), every tick update is still published in order, and nothing is dropped.

const encode = Schema.encodeSync(TickJson)
const epoch = Date.UTC(2025, 10, 1)

/** A store that accepts every checkpoint: this test is about the cache. */
const acceptingStore: Store["Type"] = {
  commit: () => Effect.void,
  claim: (_topic, partitions) =>
    Effect.succeed(new Map(partitions.map((p) => [p, { epoch: 1, nextOffset: 0, state: null }] as const))),
  marketLegacy: Effect.succeed(new Map()),
  candles: () => Effect.succeed([]),
  symbols: Effect.succeed([]),
  markets: Effect.succeed([]),
  gaps: () => Effect.succeed([]),
  checks: () => Effect.succeed({ checks: [], summary: { match: 0, mismatch: 0, gap: 0, missing: 0 } }),
  ping: Effect.void,
  checkpoints: Effect.succeed([]),
  deadLetters: () => Effect.succeed([])
}

describe("processor fast path", () => {
  it.live("coalesces what waits for a stalled cache into one write, publishing every tick update", () =>
    Effect.gen(function* () {
      const writes: Array<{ ticks: ReadonlyArray<Tick>; updates: ReadonlyArray<Update> }> = []
      const firstWrite = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const cache = Layer.succeed(LatestCache, {
        kind: "memory",
        write: (ticks, updates) =>
          Effect.gen(function* () {
            writes.push({ ticks, updates })
            if (writes.length === 1) {
              yield* Deferred.succeed(firstWrite, undefined)
              yield* Deferred.await(release)
            }
          }),
        getAll: Effect.succeed([]),
        get: () => Effect.die("unused"),
        updates: () => Stream.empty,
        newest: Effect.succeed(undefined),
        isUp: Effect.succeed(true)
      })
      const config = ConfigProvider.fromMap(
        new Map([
          ["KAFKA_TOPIC", "fastpath"],
          ["BATCH_SIZE", "10"],
          ["CHECKPOINT_INTERVAL", "50 millis"]
        ])
      )
      const bus = yield* MemoryBus.make({ maxBatch: 7 })
      yield* bus.ensureTopic("fastpath", 3)
      const dropped = (yield* Metric.value(Processor.cacheUpdatesDropped)).count

      const ticks = Array.from(
        { length: 200 },
        (_, i) =>
          new Tick({
            symbol: i % 2 === 0 ? "BTC" : "ETH",
            coinId: "c",
            price: 100 + i,
            eventTime: epoch + i * 1000,
            source: "simulator",
            ingestTime: epoch
          })
      )
      const fiber = yield* Processor.run.pipe(
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.scoped,
        Effect.provide(Layer.mergeAll(cache, Layer.succeed(Store, acceptingStore), Layer.succeed(Bus, bus))),
        Effect.withConfigProvider(config),
        Effect.fork
      )
      // The first tick goes out alone and its write hangs; the other 199 are processed meanwhile.
      yield* bus.publish(
        "fastpath",
        ticks.slice(0, 1).map((t) => ({ key: t.symbol, value: encode(t) }))
      )
      yield* Deferred.await(firstWrite)
      yield* bus.publish(
        "fastpath",
        ticks.slice(1).map((t) => ({ key: t.symbol, value: encode(t) }))
      )
      const processed = Metric.value(Processor.ticksProcessed).pipe(Effect.map((s) => s.count))
      const before = yield* processed
      while ((yield* processed) < before + 199) yield* Effect.sleep("5 millis")
      yield* Deferred.succeed(release, undefined)
      while (writes.reduce((n, w) => n + w.updates.filter((u) => u._tag === "tick").length, 0) < 200)
        yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)

      expect(writes.length).toBe(2)
      const [, second] = writes
      // The latest per symbol: one SETEX each, the newest tick.
      expect(second!.ticks.map((t) => [t.symbol, t.eventTime]).sort()).toEqual([
        ["BTC", ticks[198]!.eventTime],
        ["ETH", ticks[199]!.eventTime]
      ])
      // Every tick update, in order per symbol; each candle once, with its newest values.
      const published = writes.flatMap((w) => w.updates.flatMap((u) => (u._tag === "tick" ? [u.tick] : [])))
      for (const symbol of ["BTC", "ETH"]) {
        expect(published.filter((t) => t.symbol === symbol).map((t) => t.eventTime)).toEqual(
          ticks.filter((t) => t.symbol === symbol).map((t) => t.eventTime)
        )
      }
      const candles = second!.updates.flatMap((u) => (u._tag === "candle" ? [u.candle] : []))
      const keys = candles.map((c) => `${c.symbol}|${c.interval}|${c.bucketStart}`)
      expect(new Set(keys).size).toBe(keys.length)
      const btc1d = candles.find((c) => c.symbol === "BTC" && c.interval === "1d")!
      expect(btc1d.tickCount).toBe(100)
      // Each candle goes with its indicator values: subscribers (the dashboard) compute none themselves.
      const isIndicators = Schema.is(IndicatorValuesSchema)
      for (const u of second!.updates) if (u._tag === "candle") expect(isIndicators(u.indicators)).toBe(true)
      expect((yield* Metric.value(Processor.cacheUpdatesDropped)).count).toBe(dropped)
    })
  )

  it.live("publishes a gap record as a gap update in its place among the ticks, and counts it per market", () =>
    Effect.gen(function* () {
      const updates: Array<Update> = []
      const cache = Layer.succeed(LatestCache, {
        kind: "memory",
        write: (_ticks, us) => Effect.sync(() => updates.push(...us)),
        getAll: Effect.succeed([]),
        get: () => Effect.die("unused"),
        updates: () => Stream.empty,
        newest: Effect.succeed(undefined),
        isUp: Effect.succeed(true)
      })
      const config = ConfigProvider.fromMap(new Map([["KAFKA_TOPIC", "fastgap"]]))
      const bus = yield* MemoryBus.make({ maxBatch: 7 })
      yield* bus.ensureTopic("fastgap", 3)
      const market = "kraken:ETH-USD"
      const counted = Metric.value(Metric.tagged(Processor.gapsTotal, "market", market)).pipe(
        Effect.map((c) => c.count)
      )
      const gapsBefore = yield* counted
      const trade = (tradeId: number) =>
        encode(
          new Tick({
            symbol: "ETH",
            coinId: "ETH/USD",
            price: 2000 + tradeId,
            volume: 0.5,
            eventTime: epoch + tradeId,
            source: "kraken",
            ingestTime: epoch + tradeId,
            market: market as Tick["market"] & string,
            tradeId,
            side: "buy"
          })
        )
      const gap = {
        type: "gap",
        market,
        fromId: 2,
        toId: 4,
        fromTime: epoch + 1,
        toTime: epoch + 5,
        reason: "not-served",
        detectedAt: epoch + 9
      }
      const fiber = yield* Processor.run.pipe(
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.scoped,
        Effect.provide(Layer.mergeAll(cache, Layer.succeed(Store, acceptingStore), Layer.succeed(Bus, bus))),
        Effect.withConfigProvider(config),
        Effect.fork
      )
      yield* bus.publish("fastgap", [
        { key: market, value: trade(1) },
        { key: market, value: JSON.stringify(gap) },
        { key: market, value: trade(5) }
      ])
      while (updates.filter((u) => u._tag !== "candle").length < 3) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      const live = updates.filter((u) => u._tag !== "candle")
      expect(live.map((u) => u._tag)).toEqual(["tick", "gap", "tick"])
      expect(JSON.parse(JSON.stringify(live[1]))).toEqual({ _tag: "gap", gap })
      expect((yield* counted) - gapsBefore).toBe(1)
      // A gap changes no candle: the 1m candle holds the two trades.
      const candles = updates.flatMap((u) => (u._tag === "candle" && u.candle.interval === "1m" ? [u.candle] : []))
      expect(candles.at(-1)?.tickCount).toBe(2)
      expect(candles.at(-1)?.market).toBe(market)
    })
  )
})
