import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Logger, Schema, Stream } from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { SourceConfig } from "../../src/Config.js"
import { Gap, GapJson } from "../../src/Domain/Gap.js"
import { Market } from "../../src/Domain/Market.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as Resume from "../../src/Sources/Resume.js"
import * as Sources from "../../src/Sources/Select.js"
import { isTick } from "../../src/Sources/Source.js"
import { isVenueRecording } from "../../src/Sources/Venues.js"

// The producer's wiring of sources: SOURCE entries merged, replay paths told apart, where the topic left off.

const quiet = Logger.remove(Logger.defaultLogger)
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/replay/${name}`, import.meta.url))
const market = (s: string) => Schema.decodeSync(Market)(s)

describe("replay:<path>: a venue recording or ticks", () => {
  it("by name, by directory, by its first line; tick files and unreadable paths are ticks", () => {
    const dir = mkdtempSync(join(tmpdir(), "recording-"))
    try {
      const recordings = join(dir, "rec")
      writeFileSync(join(dir, "kraken.jsonl"), "")
      writeFileSync(join(dir, "frames.jsonl"), '{"at":1700000000000,"kind":"open","text":"wss://x"}\n')
      writeFileSync(join(dir, "ticks.jsonl"), '{"symbol":"BTC","price":1,"eventTime":1}\n')
      expect(isVenueRecording(join(dir, "kraken.jsonl"))).toBe(true)
      expect(isVenueRecording(join(dir, "frames.jsonl"))).toBe(true)
      expect(isVenueRecording(join(dir, "ticks.jsonl"))).toBe(false)
      expect(isVenueRecording(dir)).toBe(true) // holds kraken.jsonl
      expect(isVenueRecording(fixture("ticks.ndjson"))).toBe(false)
      expect(isVenueRecording(fixture(""))).toBe(false) // a directory of tick files
      expect(isVenueRecording(recordings)).toBe(false) // missing: the tick replay says why
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("SOURCE with several entries", () => {
  it.live("each entry its own stream, merged: the simulator's ticks and a replay's, side by side", () =>
    Effect.gen(function* () {
      const env = { SOURCE: `simulator,replay:${fixture("ticks.csv")}`, REPLAY_SPEED: "max", SIMULATOR_RATE: "50" }
      const config = yield* Effect.withConfigProvider(
        SourceConfig,
        ConfigProvider.fromMap(new Map(Object.entries(env)))
      )
      const stream = yield* Sources.fromConfig(config)
      // The replay's 9 ticks all arrive while the (endless) simulator goes on.
      const seen = { replay: 0, simulator: 0 }
      const ticks = yield* stream.pipe(
        Stream.filter(isTick),
        Stream.tap((t) => Effect.sync(() => (t.source === "replay" ? seen.replay++ : seen.simulator++))),
        Stream.takeUntil(() => seen.replay >= 9 && seen.simulator >= 1),
        Stream.runCollect,
        Effect.map(Chunk.toArray),
        Effect.provide(quiet)
      )
      expect(ticks.filter((t) => t.source === "replay")).toHaveLength(9)
      expect(new Set(ticks.map((t) => t.source))).toEqual(new Set(["replay", "simulator"]))
    })
  )
})

describe("where the topic left off", () => {
  const trade = (m: string, id: number) =>
    new Tick({
      symbol: m.split(":")[1]!.split("-")[0]!,
      coinId: "x",
      price: 1,
      volume: 1,
      eventTime: 1_000 + id,
      source: "binance",
      ingestTime: 2_000 + id,
      market: market(m),
      tradeId: id,
      side: "buy"
    })
  const gap = (m: string, fromId: number, toId: number) =>
    new Gap({
      type: "gap",
      market: market(m),
      fromId,
      toId,
      fromTime: 1,
      toTime: 9_000,
      reason: "not-served",
      detectedAt: 9
    })

  it.live("each market's newest trade id, a gap's end counting as delivered; other markets and samples ignored", () =>
    Effect.gen(function* () {
      const bus = yield* MemoryBus.make()
      yield* bus.ensureTopic("t", 3)
      const tick = Schema.encodeSync(TickJson)
      yield* bus.publish("t", [
        { key: "binance:BTC-USDT", value: tick(trade("binance:BTC-USDT", 7)) },
        { key: "binance:BTC-USDT", value: tick(trade("binance:BTC-USDT", 8)) },
        { key: "kraken:BTC-USD", value: tick(trade("kraken:BTC-USD", 40)) },
        { key: "kraken:BTC-USD", value: Schema.encodeSync(GapJson)(gap("kraken:BTC-USD", 41, 45)) },
        { key: "coinbase:BTC-USD", value: tick(trade("coinbase:BTC-USD", 3)) },
        { key: "binance:BTC-USDT", value: "not json" }
      ])
      const found = yield* Resume.lastIdsOnTopic({
        topic: "t",
        markets: [market("binance:BTC-USDT"), market("kraken:BTC-USD"), market("binance:ETH-USDT")],
        timeout: "20 seconds"
      }).pipe(Effect.provideService(Bus, bus), Effect.provide(quiet))
      expect(Object.fromEntries(found)).toEqual({
        "binance:BTC-USDT": { id: 8, time: 1_008 },
        "kraken:BTC-USD": { id: 45, time: 9_000 }
      })
    })
  )
})
