import { readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Logger, Metric, Option, Schedule, Schema, TestClock } from "effect"
import * as Backfill from "../../src/Backfill.js"
import { Bus, BusError, type BusShape } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { partitionFor } from "../../src/Bus/Partitioner.js"
import * as Operator from "../../src/Domain/Operator.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as CoinGecko from "../../src/Sources/CoinGecko.js"
import { readTicks } from "../support/Topic.js"

// backfill against a fake CoinGecko on loopback (recorded market_chart answers, trimmed: test/fixtures/README.md),
// publishing to the embedded bus; downstream idempotence is checked with the processor's own operator (dedupe + watermark).

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/coingecko/${name}`, import.meta.url), "utf8"))
const charts: Record<string, { prices: Array<[number, number]> }> = {
  bitcoin: fixture("market_chart/bitcoin.json") as { prices: Array<[number, number]> },
  ethereum: fixture("market_chart/ethereum.json") as { prices: Array<[number, number]> }
}
const markets = fixture("coins-markets.json")
const topic = "crypto-prices"
const lateness = 120_000

// == a fake CoinGecko

type Reply = (req: IncomingMessage, res: ServerResponse) => void
const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
    res.end(JSON.stringify(body))
  }
const hang: Reply = () => {}
const rateLimited = (retryAfter?: string): Reply =>
  json(
    { status: { error_code: 429, error_message: "You've exceeded the Rate Limit." } },
    429,
    retryAfter === undefined ? {} : { "retry-after": retryAfter }
  )

interface Fake {
  readonly url: string
  readonly requests: Array<{ readonly path: string; readonly query: URLSearchParams; readonly at: number }>
  readonly script: (path: string, ...replies: ReadonlyArray<Reply>) => void
  readonly chartRequests: (coin: string) => ReadonlyArray<{ readonly query: URLSearchParams; readonly at: number }>
}

// `at` is the fiber's Clock (TestClock under it.scoped): the time the code saw, not loopback wall-clock gaps
const fakeCoinGecko = Effect.acquireRelease(
  Effect.flatMap(Effect.clock, (clock) =>
    Effect.async<{ fake: Fake; server: Server }>((resume) => {
      const requests: Fake["requests"] = []
      const scripts = new Map<string, Array<Reply>>()
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        requests.push({ path: url.pathname, query: url.searchParams, at: clock.unsafeCurrentTimeMillis() })
        const scripted = scripts.get(url.pathname)?.shift()
        if (scripted !== undefined) return scripted(req, res)
        if (url.pathname === "/api/v3/coins/markets") return json(markets)(req, res)
        const coin = /^\/api\/v3\/coins\/([^/]+)\/market_chart$/.exec(url.pathname)?.[1]
        if (coin !== undefined && charts[coin] !== undefined) return json(charts[coin])(req, res)
        return json({ error: "coin not found" }, 404)(req, res)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            server,
            fake: {
              url: `http://127.0.0.1:${port}/api/v3`,
              requests,
              script: (path, ...replies) =>
                scripts.set(`/api/v3/${path}`, [...(scripts.get(`/api/v3/${path}`) ?? []), ...replies]),
              chartRequests: (coin) => requests.filter((r) => r.path === `/api/v3/coins/${coin}/market_chart`)
            }
          })
        )
      })
    })
  ),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ fake }) => fake))

// == helpers

const captureSink = (isTTY = false) => {
  const out: Array<string> = []
  const sink: Backfill.ProgressSink = { isTTY, write: (t) => void out.push(t), columns: () => 200 }
  return { sink, text: () => out.join("") }
}

const clientDefaults = { baseUrl: "", plan: "demo", apiKey: Option.none(), timeout: "5 seconds" } as const
const options = (fake: Fake, overrides: Partial<Backfill.Options> = {}): Backfill.Options => ({
  client: { ...clientDefaults, baseUrl: fake.url },
  coins: ["bitcoin", "ethereum"],
  days: 30,
  topic,
  partitions: 3,
  requestInterval: "1 millis",
  backoff: { base: "10 millis", max: "40 millis" },
  scanTimeout: "5 seconds",
  publishRetry: Schedule.spaced("5 millis"),
  progress: captureSink().sink,
  ...overrides
})

/** No timeout reachable while TestClock is driven in small steps: only the code's own waits fire. */
const frozen = (fake: Fake): Partial<Backfill.Options> => ({
  client: { ...clientDefaults, baseUrl: fake.url, timeout: "1 hour" },
  scanTimeout: "1 hour"
})

const quiet = Logger.remove(Logger.defaultLogger)

const backfill = (bus: BusShape, o: Backfill.Options) =>
  Backfill.run(o).pipe(
    Effect.provideService(Bus, bus),
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.provide(quiet)
  )

const readAll = (bus: BusShape) => readTicks(bus, topic)

/** The processor's operator over the topic: which ticks count, and how many are dropped as duplicate or late. */
const fold = (ticks: ReadonlyArray<Tick>) => {
  const state = Operator.emptyState()
  const accepted: Array<Tick> = []
  let duplicate = 0
  let late = 0
  for (const tick of ticks) {
    const r = Operator.step(state, tick, lateness)
    if (r._tag === "Accepted") accepted.push(tick)
    else if (r._tag === "Duplicate") duplicate += 1
    else late += 1
  }
  return { accepted, duplicate, late }
}

/** What one complete backfill should publish for a coin: every point, oldest first. */
const expected = (coin: string, symbol: string) =>
  charts[coin]!.prices.map(([time, price]) => ({ symbol, eventTime: time, price }))
const seen = (ticks: ReadonlyArray<Tick>, symbol: string) =>
  ticks.filter((t) => t.symbol === symbol).map((t) => ({ symbol: t.symbol, eventTime: t.eventTime, price: t.price }))

const pause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
/** Waits in real time (the HTTP server is real) until `probe` holds: a generous bound, not a timing assertion. */
const untilEffect = (probe: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (yield* probe) return
      yield* pause(5)
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })
const until = (probe: () => boolean, what: string) => untilEffect(Effect.sync(probe), what)
const sleepsPendingAt = (instant: number, count = 1) =>
  Effect.map(TestClock.sleeps(), (sleeps) => Chunk.filter(sleeps, (s) => s === instant).length === count)
/** Under TestClock: advances it in small steps until `fiber` ends (the short backoffs here); the result. */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("the backfill did not finish")
      yield* pause(5)
      yield* TestClock.adjust("10 millis")
    }
    return yield* Fiber.join(fiber)
  })

// == tests

describe("backfill against a fake CoinGecko", () => {
  it.scopedLive("publishes each coin's market_chart in event-time order, keyed by market, source coingecko", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      const progress = captureSink()
      const summary = yield* backfill(bus, options(fake, { progress: progress.sink }))

      const chartCalls = fake.requests.filter((r) => r.path.endsWith("/market_chart"))
      expect(chartCalls.map((r) => r.path)).toEqual([
        "/api/v3/coins/bitcoin/market_chart",
        "/api/v3/coins/ethereum/market_chart"
      ])
      expect(chartCalls.every((r) => r.query.get("vs_currency") === "usd" && r.query.get("days") === "30")).toBe(true)

      const records = yield* readAll(bus)
      expect(records).toHaveLength(50)
      expect(records.every((r) => r.key === `coingecko:${r.tick.symbol}-USD` && r.tick.source === "coingecko")).toBe(
        true
      )
      const ticks = records.map((r) => r.tick)
      expect(seen(ticks, "BTC")).toEqual(expected("bitcoin", "BTC"))
      expect(seen(ticks, "ETH")).toEqual(expected("ethereum", "ETH"))
      // market cap and CoinGecko's rolling 24 h volume ride along; there is no per-trade volume in a market_chart
      const last = ticks.filter((t) => t.symbol === "BTC").at(-1)!
      expect(last.marketCap).toBeGreaterThan(0)
      expect(last.volume24h).toBeGreaterThan(0)
      expect(last.volume).toBeUndefined()

      expect(summary.published).toBe(50)
      expect(summary.coins.map((c) => [c.coinId, c.symbol, c.points, c.published, c.skipped])).toEqual([
        ["bitcoin", "BTC", 25, 25, 0],
        ["ethereum", "ETH", 25, 25, 0]
      ])
      // plain progress lines (not a terminal): one per event, each with the counts
      const text = progress.text()
      expect(text).not.toContain("\x1b[")
      expect(text).toContain("backfill: bitcoin (BTC): 25 ticks published [1/2 coins · 25/25 ticks published")
      expect(text).toContain("backfill: ethereum (ETH): 25 ticks published [2/2 coins · 50/50 ticks published")
      expect(Backfill.describe(summary)).toContain("backfill: 50 ticks published")
    })
  )

  // TestClock: the clock stands still while a request is in flight, so the waits below are the ones the code scheduled
  it.scoped("429 with Retry-After waits that long; 429 without it and a 503 back off; then the coin is published", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      const rateLimited0 = (yield* Metric.value(CoinGecko.metrics.rateLimited)).count
      fake.script("coins/bitcoin/market_chart", rateLimited("1"))
      fake.script("coins/ethereum/market_chart", rateLimited(), json({ error: "upstream" }, 503))
      const progress = captureSink()
      const fiber = yield* Effect.fork(backfill(bus, options(fake, { progress: progress.sink, ...frozen(fake) })))
      // the progress redraw also sleeps until 1000 (every second): the Retry-After wait is the second one there
      yield* untilEffect(sleepsPendingAt(1000, 2), "the wait for Retry-After: 1 (second)")
      yield* TestClock.adjust("999 millis")
      yield* pause(50)
      expect(fake.chartRequests("bitcoin")).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      yield* until(() => fake.chartRequests("bitcoin").length === 2, "the retry after Retry-After")
      const summary = yield* drive(fiber)

      const btc = fake.chartRequests("bitcoin")
      expect(btc.map((r) => r.at)).toEqual([0, 1000])
      expect(fake.chartRequests("ethereum")).toHaveLength(3)
      expect((yield* Metric.value(CoinGecko.metrics.rateLimited)).count - rateLimited0).toBe(2)
      expect(summary.published).toBe(50)
      expect(progress.text()).toContain("HTTP 429 rate limited (Retry-After 1s)")
      expect(progress.text()).toMatch(/ethereum: .*HTTP 503.*retrying in/)
    })
  )

  it.scoped("paces its calls: requestInterval between two market_chart calls (TestClock)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      const fiber = yield* Effect.fork(backfill(bus, options(fake, { requestInterval: "300 millis", ...frozen(fake) })))
      yield* until(() => fake.chartRequests("bitcoin").length === 1, "the bitcoin request")
      yield* untilEffect(sleepsPendingAt(300), "the paced wait before ethereum")
      yield* TestClock.adjust("299 millis")
      yield* pause(50)
      expect(fake.chartRequests("ethereum")).toHaveLength(0)
      yield* TestClock.adjust("1 millis")
      yield* drive(fiber)
      const [a, b] = [fake.chartRequests("bitcoin")[0]!, fake.chartRequests("ethereum")[0]!]
      expect([a.at, b.at]).toEqual([0, 300])
    })
  )

  it.scopedLive(
    "gives up on a coin after maxAttempts, or at once when CoinGecko says no (404): the others still go out, the run fails",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const bus = yield* MemoryBus.make()
        fake.script("coins/ethereum/market_chart", rateLimited(), rateLimited(), rateLimited())
        const result = yield* backfill(
          bus,
          options(fake, { coins: ["nosuchcoin", "ethereum", "bitcoin"], maxAttempts: 3 })
        ).pipe(Effect.either)

        expect(Either.isLeft(result)).toBe(true)
        const error = Either.getLeft(result).pipe(Option.getOrThrow)
        expect(error._tag).toBe("BackfillError")
        if (error._tag !== "BackfillError") return
        expect(error.message).toContain("2 of 3 coins failed")
        expect(error.message).toMatch(/nosuchcoin: not fetched: .*HTTP 404/)
        expect(fake.chartRequests("nosuchcoin")).toHaveLength(1) // not retried
        expect(fake.chartRequests("ethereum")).toHaveLength(3)
        expect(error.summary.coins.find((c) => c.coinId === "bitcoin")?.published).toBe(25)
        expect((yield* readAll(bus)).map((r) => r.key)).toEqual(Array.from({ length: 25 }, () => "coingecko:BTC-USD"))
      })
  )

  it.scopedLive("run again: the scan finds what the topic holds and nothing is published twice", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      yield* backfill(bus, options(fake))
      const progress = captureSink()
      const again = yield* backfill(bus, options(fake, { progress: progress.sink }))

      expect(again.published).toBe(0)
      expect(again.coins.map((c) => [c.coinId, c.published, c.skipped])).toEqual([
        ["bitcoin", 0, 25],
        ["ethereum", 0, 25]
      ])
      expect(progress.text()).toContain(
        "already there: BTC up to 2023-10-25T17:16:37.000Z (coingecko), ETH up to 2023-10-25T17:16:35.000Z (coingecko)"
      )
      expect(progress.text()).toContain("nothing new: the topic already holds BTC up to 2023-10-25T17:16:37.000Z")
      expect(yield* readAll(bus)).toHaveLength(50)
    })
  )

  it.scopedLive(
    "run again with republish: the same ticks go out again and the processor's operator drops every repeat",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const bus = yield* MemoryBus.make()
        const first = yield* backfill(bus, options(fake))
        const once = (yield* readAll(bus)).map((r) => r.tick)
        const again = yield* backfill(bus, options(fake, { republish: true }))
        expect(again.published).toBe(first.published)

        const records = yield* readAll(bus)
        expect(records).toHaveLength(100)
        // the same ticks, apart from the time they were published
        const strip = (t: Tick) => ({ ...t, ingestTime: 0 })
        const bySymbolTime = (ts: ReadonlyArray<Tick>) =>
          ts.map(strip).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.eventTime - b.eventTime)
        const twice = records.map((r) => r.tick)
        expect(bySymbolTime(twice)).toEqual(bySymbolTime([...once, ...once]))

        const downstream = fold(twice)
        expect(downstream.accepted.map(strip)).toEqual(fold(once).accepted.map(strip))
        expect(downstream.accepted).toHaveLength(50)
        // each repeat is older than its symbol's watermark (late) or inside the lateness and seen before (duplicate)
        expect(downstream.late + downstream.duplicate).toBe(50)
      })
  )

  it.scopedLive(
    "interrupted half-way (the bus took part of a batch, then went away): run again completes, each tick once, in order",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const memory = yield* MemoryBus.make()
        let writes = 0
        let down = false
        // Writes the first 10 messages of the first publish, then fails it and stays down (a broker dying mid-send).
        const dying: BusShape = {
          ...memory,
          publish: (t, messages) =>
            Effect.suspend(() => {
              if (down) return Effect.fail(new BusError({ reason: "publish", message: "broker gone (injected)" }))
              down = true
              return memory.publish(t, messages.slice(0, 10)).pipe(
                Effect.tap(() => (writes += 10)),
                Effect.zipRight(
                  Effect.fail(new BusError({ reason: "publish", message: "broker died mid-send (injected)" }))
                )
              )
            })
        }
        const progress = captureSink()
        const fiber = yield* backfill(
          dying,
          options(fake, { progress: progress.sink, drainTimeout: "50 millis" })
        ).pipe(Effect.fork)
        yield* until(() => writes === 10, "the partial write")
        yield* pause(30)
        yield* Fiber.interrupt(fiber)
        expect(progress.text()).toContain("backfill: interrupted after 0 ticks published; run it again to go on")

        const partial = yield* readAll(memory)
        expect(partial.map((r) => r.tick.symbol)).toEqual(Array.from({ length: 10 }, () => "BTC"))

        const resumed = yield* backfill(memory, options(fake))
        expect(resumed.coins.map((c) => [c.coinId, c.published, c.skipped])).toEqual([
          ["bitcoin", 15, 10],
          ["ethereum", 25, 0]
        ])
        const ticks = (yield* readAll(memory)).map((r) => r.tick)
        expect(seen(ticks, "BTC")).toEqual(expected("bitcoin", "BTC"))
        expect(seen(ticks, "ETH")).toEqual(expected("ethereum", "ETH"))
        const downstream = fold(ticks)
        expect(downstream.accepted).toHaveLength(50)
        expect(downstream.late + downstream.duplicate).toBe(0)
      })
  )

  it.scopedLive("interrupted while fetching: the coins before are complete, run again publishes the rest", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      fake.script("coins/ethereum/market_chart", hang)
      const fiber = yield* backfill(bus, options(fake)).pipe(Effect.fork)
      yield* until(() => fake.chartRequests("ethereum").length === 1, "the ethereum request")
      yield* Effect.flatMap(readAll(bus), (r) => (r.length === 25 ? Effect.void : Effect.fail("not yet"))).pipe(
        Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(400))))
      )
      yield* Fiber.interrupt(fiber)
      expect((yield* readAll(bus)).map((r) => r.key)).toEqual(Array.from({ length: 25 }, () => "coingecko:BTC-USD"))

      const resumed = yield* backfill(bus, options(fake))
      expect(resumed.coins.map((c) => [c.coinId, c.published, c.skipped])).toEqual([
        ["bitcoin", 0, 25],
        ["ethereum", 25, 0]
      ])
      const ticks = (yield* readAll(bus)).map((r) => r.tick)
      expect(fold(ticks).accepted).toHaveLength(50)
    })
  )

  it.scopedLive("a symbol the topic already holds from another source (the simulator) is left alone", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      yield* bus.ensureTopic(topic, 3)
      const simulated = new Tick({
        symbol: "BTC",
        coinId: "bitcoin",
        price: 30_000,
        eventTime: Date.UTC(2023, 9, 1),
        source: "simulator",
        ingestTime: Date.UTC(2023, 9, 1)
      })
      yield* bus.publish(topic, [{ key: "BTC", value: Schema.encodeSync(TickJson)(simulated) }])
      const progress = captureSink()
      const summary = yield* backfill(bus, options(fake, { progress: progress.sink }))
      expect(summary.coins.map((c) => [c.coinId, c.published, c.skipped])).toEqual([
        ["bitcoin", 0, 25],
        ["ethereum", 25, 0]
      ])
      expect(progress.text()).toContain("skipped: the topic already holds simulator ticks of BTC")
    })
  )

  it.scopedLive(
    "the scan reads only the last scanRecords of each partition: beyond them it republishes, which downstream drops",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const bus = yield* MemoryBus.make()
        yield* backfill(bus, options(fake, { coins: ["bitcoin"] }))
        // 10 newer records of another symbol in BTC's partition push BTC's out of a 5-record scan
        const other = Array.from({ length: 100 }, (_, i) => `X${i}`).find(
          (s) => partitionFor(`simulator:${s}-USD`, 3) === partitionFor("coingecko:BTC-USD", 3)
        )!
        yield* bus.publish(
          topic,
          Array.from({ length: 10 }, (_, i) => ({
            key: `simulator:${other}-USD`,
            value: Schema.encodeSync(TickJson)(
              new Tick({
                symbol: other,
                coinId: other.toLowerCase(),
                price: 1,
                eventTime: 1_000 + i,
                source: "simulator",
                ingestTime: 1_000 + i
              })
            )
          }))
        )
        const progress = captureSink()
        const summary = yield* backfill(
          bus,
          options(fake, { coins: ["bitcoin"], scanRecords: 5, progress: progress.sink })
        )
        expect(progress.text()).toContain(": 5 records (the newest, at most 5 a partition)")
        expect(progress.text()).toContain("none of these symbols is there yet")
        expect(summary.published).toBe(25)
        const btc = (yield* readAll(bus)).map((r) => r.tick).filter((t) => t.symbol === "BTC")
        expect(btc).toHaveLength(50)
        const downstream = fold(btc)
        expect(downstream.accepted).toHaveLength(25)
        expect(downstream.late + downstream.duplicate).toBe(25)
      })
  )

  it.scopedLive(
    "on a terminal: a bar redrawn in place with counts and ETA, log lines above it, cleared at the end",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const bus = yield* MemoryBus.make()
        const tty = captureSink(true)
        fake.script("coins/ethereum/market_chart", rateLimited())
        yield* backfill(bus, options(fake, { progress: tty.sink, requestInterval: "250 millis" }))
        const text = tty.text()
        expect(text).toContain("\r\x1b[2Kbackfill [")
        expect(text).toMatch(/backfill \[#+\.*\] \d\/2 coins · [\d,]+\/[\d,]+ ticks published · \d+s · ETA (--|\d+s)/)
        expect(text).toContain("backfill: bitcoin (BTC): 25 ticks published\n")
        expect(text.endsWith("\r\x1b[2K")).toBe(true)
      })
  )
})

describe("history → ticks", () => {
  it("oldest first, one tick per event time, points that give no tick counted", () => {
    const chart = {
      prices: [
        [3000, 2],
        [1000, 1],
        [1000, 1],
        [2000, null],
        [4000, -5],
        [5000, 3]
      ],
      market_caps: [[1000, 10]],
      total_volumes: [[1000, 5]]
    }
    const result = Backfill.historyTicks(chart, "bitcoin", "BTC", 42)
    expect(Either.isRight(result)).toBe(true)
    if (Either.isLeft(result)) return
    expect(result.right.ticks.map((t) => [t.eventTime, t.price, t.source, t.ingestTime])).toEqual([
      [1000, 1, "coingecko", 42],
      [3000, 2, "coingecko", 42],
      [5000, 3, "coingecko", 42]
    ])
    expect(result.right.ticks[0]).toMatchObject({ marketCap: 10, volume24h: 5 })
    expect(result.right.bad.map(([where]) => where)).toEqual(["prices[3]", "prices[4]"])
    expect(Either.isLeft(Backfill.historyTicks({ nope: 1 }, "bitcoin", "BTC", 0))).toBe(true)
  })
})
