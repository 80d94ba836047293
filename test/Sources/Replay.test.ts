import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Either, Fiber, Logger, Metric, Schema, Stream, TestClock } from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { parseReplaySpeed, SourceConfig } from "../../src/Config.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as Producer from "../../src/Producer.js"
import * as Replay from "../../src/Sources/Replay.js"
import * as Sources from "../../src/Sources/Select.js"
import { isTick } from "../../src/Sources/Source.js"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/replay/${name}`, import.meta.url))

const captureLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.add(logger), text: () => lines.map((l) => `${l.level} ${l.message}`).join("\n") }
}

const quiet = Logger.remove(Logger.defaultLogger)
const badLines = Effect.map(Metric.value(Replay.metrics.badLines), (s) => s.count)

/** Replays `options` to the end, with the log lines and how many bad lines were counted. */
const replay = (options: Replay.Options) =>
  Effect.gen(function* () {
    const logs = captureLogs()
    const before = yield* badLines
    const ticks = yield* Replay.stream(options).pipe(
      Stream.runCollect,
      Effect.map(Chunk.toArray),
      Effect.provide(quiet),
      Effect.provide(logs.layer)
    )
    return { ticks, logs, bad: (yield* badLines) - before }
  })

const day = 86_400_000
const start = Date.UTC(2018, 9, 26)

describe("Replay", () => {
  it.effect("NDJSON: tick lines in, ticks out labelled replay; bad lines reported by number, skipped and counted", () =>
    Effect.gen(function* () {
      const { bad, logs, ticks } = yield* replay({ path: fixture("ticks.ndjson"), speed: "max" })
      expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "BTC", "ETH", "BTC", "ETH", "BTC", "ETH", "LTC"])
      expect(ticks.every((t) => Schema.is(Tick)(t) && t.source === "replay")).toBe(true)
      expect(ticks[0]).toMatchObject({
        coinId: "bitcoin",
        price: 6458.191521836801,
        volume24h: 2618534041.346836,
        eventTime: start
      })
      expect(ticks[0]!.ingestTime).not.toBe(start + 1500) // stamped when replayed, not copied
      expect(ticks[8]).toMatchObject({ symbol: "LTC", coinId: "litecoin", price: 52.1, eventTime: start + 4 * day })
      expect(bad).toBe(3)
      const warnings = logs.lines.filter((l) => l.level === "WARN").map((l) => l.message)
      expect(warnings).toHaveLength(3)
      expect(warnings[0]).toMatch(/ticks\.ndjson:3: skipped: not JSON/)
      expect(warnings[1]).toMatch(/ticks\.ndjson:7: skipped: .*price/)
      expect(warnings[2]).toMatch(/ticks\.ndjson:9: skipped: .*eventTime/)
      expect(logs.text()).toMatch(/ticks\.ndjson: 9 ticks read, 3 bad lines skipped/)
    })
  )

  it.effect(
    "CSV with a header: columns by name, empty cells absent; bad lines reported by number, skipped and counted",
    () =>
      Effect.gen(function* () {
        const { bad, logs, ticks } = yield* replay({ path: fixture("ticks.csv"), speed: "max" })
        expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "BTC", "ETH", "BTC", "ETH", "BTC", "ETH", "USDT"])
        expect(ticks[0]).toMatchObject({
          price: 6458.191521836801,
          volume24h: 2618534041.346836,
          marketCap: 112010056845.21841,
          eventTime: start,
          source: "replay"
        })
        expect(ticks[1]!.volume24h).toBeUndefined()
        expect(ticks[1]!.marketCap).toBeUndefined()
        expect(ticks[8]).toMatchObject({ symbol: "USDT", coinId: "tether", price: 1.0002, eventTime: start + 4 * day })
        expect(bad).toBe(3)
        const warnings = logs.lines.filter((l) => l.level === "WARN").map((l) => l.message)
        expect(warnings[0]).toMatch(/ticks\.csv:4: skipped: .*not-a-price/)
        expect(warnings[1]).toMatch(/ticks\.csv:7: skipped: expected 6 cells, got 3/)
        expect(warnings[2]).toMatch(/ticks\.csv:9: skipped: needs a symbol or a coinId/)
      })
  )

  it.effect("a market_chart file: the coin from the file name, caps and 24 h volumes joined on the timestamp", () =>
    Effect.gen(function* () {
      const { bad, ticks } = yield* replay({ path: fixture("market_chart/bitcoin.json"), speed: "max" })
      expect(bad).toBe(0)
      expect(ticks).toHaveLength(7)
      expect(ticks.every((t) => t.symbol === "BTC" && t.coinId === "bitcoin" && t.source === "replay")).toBe(true)
      expect(ticks[0]).toMatchObject({
        price: 6458.191521836801,
        marketCap: 112010056845.21841,
        volume24h: 2618534041.346836,
        eventTime: start
      })
      expect(ticks[6]!.eventTime).toBe(1698254197000) // the irregular "now" point the API ends with
    })
  )

  it.effect("a damaged market_chart with REPLAY_COIN: bad points reported as prices[i], skipped and counted", () =>
    Effect.gen(function* () {
      const { bad, logs, ticks } = yield* replay({
        path: fixture("damaged/chart.json"),
        speed: "max",
        coin: "litecoin"
      })
      expect(ticks.map((t) => t.symbol)).toEqual(["LTC", "LTC", "LTC", "LTC"])
      expect(bad).toBe(2)
      expect(logs.text()).toMatch(/chart\.json:prices\[1\]: skipped: .*price/)
      expect(logs.text()).toMatch(/chart\.json:prices\[3\]: skipped: .*oops/)
    })
  )

  it.effect("a directory of market_chart files replays them all, merged by event time", () =>
    Effect.gen(function* () {
      const { ticks } = yield* replay({ path: fixture("market_chart"), speed: "max" })
      expect(ticks).toHaveLength(14)
      expect(new Set(ticks.map((t) => t.symbol))).toEqual(new Set(["BTC", "ETH"]))
      expect(ticks.map((t) => t.eventTime)).toEqual([...ticks.map((t) => t.eventTime)].sort((a, b) => a - b))
      expect(ticks.slice(0, 2).map((t) => t.symbol)).toEqual(["BTC", "ETH"])
    })
  )

  it.effect("pace: the recorded gaps ÷ speed, measured from the first tick; late or earlier ticks go at once", () =>
    Effect.gen(function* () {
      const times = [0, 1000, 1000, 3000, 2500, 7000]
      const ticks = times.map(
        (eventTime) =>
          new Tick({
            symbol: "BTC",
            coinId: "bitcoin",
            price: 1,
            eventTime: 1_600_000_000_000 + eventTime,
            source: "replay",
            ingestTime: 0
          })
      )
      const out: Array<Tick> = []
      const fiber = yield* Effect.fork(
        Stream.fromIterable(ticks).pipe(
          Replay.pace(2),
          Stream.runForEach((t) => Effect.sync(() => out.push(t)))
        )
      )
      yield* TestClock.adjust("0 millis")
      expect(out).toHaveLength(1)
      yield* TestClock.adjust("499 millis")
      expect(out).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect(out).toHaveLength(3)
      yield* TestClock.adjust("1 second")
      expect(out).toHaveLength(5)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      expect(out.map((t) => t.ingestTime)).toEqual([0, 500, 500, 1500, 1500, 3500])
    })
  )

  it.effect("pace with speed max does not wait", () =>
    Effect.gen(function* () {
      const ticks = [0, day, 30 * day].map(
        (eventTime) =>
          new Tick({ symbol: "ETH", coinId: "ethereum", price: 2, eventTime, source: "replay", ingestTime: 0 })
      )
      const out = yield* Stream.fromIterable(ticks).pipe(Replay.pace("max"), Stream.runCollect)
      expect(Chunk.size(out)).toBe(3)
    })
  )

  it.effect("a file replayed at REPLAY_SPEED=86400 emits a day of recording per second (TestClock)", () =>
    Effect.gen(function* () {
      const out: Array<Tick> = []
      const fiber = yield* Effect.fork(
        Replay.stream({ path: fixture("ticks.ndjson"), speed: 86_400 }).pipe(
          Stream.runForEach((t) => Effect.sync(() => out.push(t))),
          Effect.provide(quiet)
        )
      )
      // the file is read for real; wait until the replay waits for its second day
      const deadline = Date.now() + 20_000 // a generous bound on the real read, not a timing assertion
      while (Date.now() < deadline && Chunk.isEmpty(yield* TestClock.sleeps())) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      }
      expect(out.map((t) => t.symbol)).toEqual(["BTC", "ETH"])
      yield* TestClock.adjust("999 millis")
      expect(out).toHaveLength(2)
      yield* TestClock.adjust("1 millis")
      expect(out).toHaveLength(4)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(out.map((t) => t.ingestTime)).toEqual([0, 0, 1000, 1000, 2000, 2000, 3000, 3000, 4000])
    })
  )

  it("REPLAY_SPEED: a positive factor, or 0 / max for as fast as possible", () => {
    expect(parseReplaySpeed("1")).toEqual(Either.right(1))
    expect(parseReplaySpeed("60")).toEqual(Either.right(60))
    expect(parseReplaySpeed("0.5")).toEqual(Either.right(0.5))
    expect(parseReplaySpeed("x10")).toEqual(Either.right(10))
    expect(parseReplaySpeed("0")).toEqual(Either.right("max"))
    expect(parseReplaySpeed("MAX")).toEqual(Either.right("max"))
    expect(Either.isLeft(parseReplaySpeed("-1"))).toBe(true)
    expect(Either.isLeft(parseReplaySpeed("fast"))).toBe(true)
    expect(Either.isLeft(parseReplaySpeed(""))).toBe(true)
  })
})

describe("SOURCE=replay:<file>", () => {
  const config = (env: Record<string, string>) =>
    Effect.orDie(Effect.withConfigProvider(SourceConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

  it.effect("reads REPLAY_SPEED and REPLAY_COIN and replays through Sources.fromConfig", () =>
    Effect.gen(function* () {
      const source = yield* config({
        SOURCE: `replay:${fixture("damaged/chart.json")}`,
        REPLAY_SPEED: "max",
        REPLAY_COIN: "litecoin"
      })
      expect(source.replay.speed).toBe("max")
      const ticks = yield* Sources.fromConfig(source).pipe(
        Effect.flatMap((s) => Stream.runCollect(Stream.filter(s, isTick))),
        Effect.provide(quiet)
      )
      expect(Chunk.toArray(ticks).map((t) => [t.symbol, t.source])).toEqual(
        Array.from({ length: 4 }, () => ["LTC", "replay"])
      )
    })
  )

  it.live("through the producer: every replayed tick reaches the bus keyed by market, then the producer ends", () =>
    Effect.gen(function* () {
      const bus = yield* MemoryBus.make()
      const env = new Map([
        ["SOURCE", `replay:${fixture("ticks.csv")}`],
        ["REPLAY_SPEED", "max"]
      ])
      yield* Producer.run.pipe(
        Effect.provideService(Bus, bus),
        Effect.withConfigProvider(ConfigProvider.fromMap(env)),
        Effect.provide(quiet)
      )
      const ends = yield* bus.endOffsets("crypto-prices")
      expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(9)
      const records = yield* bus
        .consume({ topic: "crypto-prices", groupId: "test", onAssign: () => Effect.succeed(new Map()) })
        .pipe(
          Stream.flatMap((event) => (event._tag === "Records" ? Stream.fromIterable(event.records) : Stream.empty)),
          Stream.take(9),
          Stream.runCollect,
          Effect.map(Chunk.toArray)
        )
      const ticks = records.map((r) => [r.key, Schema.decodeSync(TickJson)(r.value)] as const)
      // A replayed sample's market is CoinGecko's (docs/markets.md).
      expect(ticks.every(([key, tick]) => key === `coingecko:${tick.symbol}-USD` && tick.source === "replay")).toBe(
        true
      )
      expect(new Set(ticks.map(([key]) => key))).toEqual(
        new Set(["coingecko:BTC-USD", "coingecko:ETH-USD", "coingecko:USDT-USD"])
      )
    })
  )

  it.effect("a missing file fails at start with reason io; an unknown extension with bad-input", () =>
    Effect.gen(function* () {
      const missing = yield* config({ SOURCE: `replay:${fixture("nope.ndjson")}` }).pipe(
        Effect.flatMap(Sources.fromConfig),
        Effect.flip
      )
      expect(missing).toMatchObject({ _tag: "SourceError", source: "replay", reason: "io" })
      const unknown = yield* config({ SOURCE: `replay:${fixture("../README.md")}` }).pipe(
        Effect.flatMap(Sources.fromConfig),
        Effect.flip
      )
      expect(unknown).toMatchObject({ reason: "bad-input" })
      expect(unknown.message).toContain("unknown format")
    })
  )

  it.scoped("a CSV without the required columns, or a .json that is not a market_chart, fails with bad-input", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "replay-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      writeFileSync(join(dir, "prices.csv"), "symbol,close,time\nBTC,1,2\n")
      writeFileSync(join(dir, "bitcoin.json"), JSON.stringify({ data: [1, 2, 3] }))
      const csv = yield* Replay.stream({ path: join(dir, "prices.csv"), speed: "max" }).pipe(
        Stream.runCollect,
        Effect.flip,
        Effect.provide(quiet)
      )
      expect(csv.reason).toBe("bad-input")
      expect(csv.message).toMatch(/prices\.csv:1: .*lacks price, eventTime/)
      const chart = yield* Replay.stream({ path: join(dir, "bitcoin.json"), speed: "max" }).pipe(
        Stream.runCollect,
        Effect.flip,
        Effect.provide(quiet)
      )
      expect(chart.reason).toBe("bad-input")
      expect(chart.message).toContain("not a market_chart answer")
    })
  )
})
