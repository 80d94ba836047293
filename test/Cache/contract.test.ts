import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Redacted, Schedule, type Scope, Stream, TestClock } from "effect"
import { Redis as IORedis } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { compare, type EventId } from "../../src/Cache/EventId.js"
import type { LatestCacheShape } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import * as RedisCache from "../../src/Cache/Redis.js"
import { Candle } from "../../src/Domain/Candle.js"
import { Gap } from "../../src/Domain/Gap.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"

// The latest cache's contract (docs/markets.md, "Redis"), the same cases on the embedded adapter and on a real Redis
// (scripts/test.sh starts it; REDIS_URL). Keys `latest:<market>`, the set `latest:markets`, updates of all three kinds.

const t0 = 1_764_000_000_000
const binance = "binance:BTC-USDT" as Market
const coinbase = "coinbase:BTC-USD" as Market

const trade = (market: Market, base: string, price: number, tradeId: number) =>
  new Tick({
    symbol: base,
    coinId: market.split(":")[1]!.replace("-", ""),
    price,
    volume: 0.5,
    eventTime: t0 + tradeId,
    source: market.split(":")[0] as "binance",
    ingestTime: t0 + tradeId + 3,
    market,
    tradeId,
    side: tradeId % 2 === 0 ? "buy" : "sell"
  })
/** A sample written before markets: no market field, so its market is simulator:BTC-USD. */
const legacy = (price: number) =>
  new Tick({ symbol: "BTC", coinId: "bitcoin", price, eventTime: t0, source: "simulator", ingestTime: t0 })

const updates: ReadonlyArray<Update> = [
  { _tag: "tick", tick: trade(binance, "BTC", 100, 7) },
  {
    _tag: "candle",
    candle: new Candle({
      market: binance,
      symbol: "BTC",
      interval: "1m",
      bucketStart: t0 - (t0 % 60_000),
      open: 100,
      high: 100,
      low: 100,
      close: 100,
      volume: 0.5,
      tickCount: 1,
      vwap: 100,
      status: "final",
      gaps: [],
      firstTradeId: null,
      lastTradeId: null
    }),
    indicators: { sma20: null, sma50: null, ema12: null, ema26: null, rsi14: null, bollinger: null }
  },
  {
    _tag: "gap",
    gap: new Gap({
      type: "gap",
      market: binance,
      fromId: 8,
      toId: 11,
      fromTime: t0 + 7,
      toTime: t0 + 12,
      reason: "not-served",
      detectedAt: t0 + 20
    })
  }
]

const contract = (name: string, cache: Effect.Effect<LatestCacheShape, never, Scope.Scope>) => {
  describe(`latest cache contract: ${name}`, () => {
    it.scopedLive("keeps the latest tick per market, a legacy sample under its sample market, ordered by market", () =>
      Effect.gen(function* () {
        const c = yield* cache
        yield* c.write([trade(coinbase, "BTC", 99, 1), trade(binance, "BTC", 100, 1), legacy(98)], [])
        yield* c.write([trade(binance, "BTC", 101, 2)], [])
        const all = yield* c.getAll
        expect(all.map((t) => [t.market, t.price])).toEqual([
          [binance, 101],
          [coinbase, 99],
          ["simulator:BTC-USD", 98]
        ])
        const one = yield* c.get(binance)
        expect(Option.map(one, (t) => [t.tradeId, t.side, t.market])).toEqual(Option.some([2, "buy", binance]))
        // The legacy sample is served with its market written out.
        const sample = yield* c.get("simulator:BTC-USD" as Market)
        expect(Option.map(sample, (t) => [t.market, t.price])).toEqual(Option.some(["simulator:BTC-USD", 98]))
        expect(yield* c.get("kraken:BTC-USD" as Market)).toEqual(Option.none())
        expect(yield* c.isUp).toBe(true)
      })
    )

    it.scopedLive("publishes tick, candle and gap updates in order to a subscriber", () =>
      Effect.gen(function* () {
        const c = yield* cache
        // Entries only (Redis's window first, then live ones), each with a newer id than the one before.
        let previous: EventId | undefined
        const received = yield* c.updates().pipe(
          Stream.filterMap((item) => (item._tag === "entry" ? Option.some(item) : Option.none())),
          Stream.tap((e) =>
            Effect.sync(() => {
              if (previous !== undefined) expect(compare(e.id, previous)).toBeGreaterThan(0)
              previous = e.id
            })
          ),
          Stream.map((e) => e.update),
          // A run of the batch, whole and in order (other writers may have put other updates in the stream before).
          Stream.sliding(updates.length),
          Stream.filter((run) => JSON.stringify(Chunk.toReadonlyArray(run)) === JSON.stringify(updates)),
          Stream.take(1),
          Stream.runCollect,
          Effect.map((runs) => Chunk.toReadonlyArray(Chunk.unsafeHead(runs))),
          Effect.fork
        )
        // A subscriber gets only what is published after it subscribed: publish the batch until it has one whole.
        const publisher = yield* c
          .write([], updates)
          .pipe(Effect.zipRight(Effect.sleep("50 millis")), Effect.forever, Effect.fork)
        const got = yield* Fiber.join(received).pipe(Effect.timeout("20 seconds"))
        yield* Fiber.interrupt(publisher)
        expect(got.map((u) => u._tag)).toEqual(["tick", "candle", "gap"])
        expect(JSON.stringify(got)).toBe(JSON.stringify(updates))
      })
    )
  })
}

contract("memory", MemoryCache.make("45 seconds"))

describe("latest cache: memory", () => {
  it.scoped("expires a market's latest after the TTL (TestClock)", () =>
    Effect.gen(function* () {
      const c = yield* MemoryCache.make("45 seconds")
      yield* c.write([trade(binance, "BTC", 100, 1)], [])
      yield* TestClock.adjust("44 seconds")
      expect(Option.isSome(yield* c.get(binance))).toBe(true)
      yield* TestClock.adjust("2 seconds")
      expect(yield* c.get(binance)).toEqual(Option.none())
      expect(yield* c.getAll).toEqual([])
    })
  )
})

// == the same contract on a real Redis, in a database of its own (flushed before each case)

const redisUrl = () => {
  const url = process.env["REDIS_URL"]
  if (url === undefined || url === "") {
    throw new Error(
      "test/Cache needs a real Redis: REDIS_URL is not set (run `npm test -- test/Cache`, which starts one)"
    )
  }
  return `${url.replace(/\/\d*$/, "")}/7`
}
let admin: IORedis
beforeAll(async () => {
  admin = new IORedis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 2 })
  await admin.connect()
})
afterAll(async () => {
  await admin?.quit()
})

const redis = Effect.zipRight(
  Effect.promise(() => admin.flushdb()),
  RedisCache.make(Redacted.make(redisUrl()), 45).pipe(
    // The client connects in the background: wait (bounded) until it is ready.
    Effect.tap((c) =>
      c.isUp.pipe(
        Effect.repeat({ until: (up) => up, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("10 seconds"),
        Effect.orDie
      )
    )
  )
)

contract("redis", redis)

describe("latest cache: redis keys (docs/markets.md)", () => {
  it.scopedLive("writes latest:<market> with the TTL and the set latest:markets, never latest:<SYMBOL>", () =>
    Effect.gen(function* () {
      const c = yield* redis
      yield* c.write([trade(binance, "BTC", 100, 1), legacy(98)], [])
      const keys = yield* Effect.promise(() => admin.keys("*"))
      expect([...keys].sort()).toEqual(["latest:binance:BTC-USDT", "latest:markets", "latest:simulator:BTC-USD"])
      const members = yield* Effect.promise(() => admin.smembers("latest:markets"))
      expect([...members].sort()).toEqual([binance, "simulator:BTC-USD"])
      const ttl = yield* Effect.promise(() => admin.ttl(`latest:${binance}`))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(45)
      // The tick's own JSON: a legacy sample is stored as it came, without a market.
      const stored = JSON.parse((yield* Effect.promise(() => admin.get("latest:simulator:BTC-USD"))) ?? "null")
      expect(stored).toEqual(JSON.parse(JSON.stringify(legacy(98))))
    })
  )

  it.scopedLive("skips a corrupt value and a member that is not a market, serving the rest", () =>
    Effect.gen(function* () {
      const c = yield* redis
      yield* c.write([trade(binance, "BTC", 100, 1)], [])
      yield* Effect.promise(() =>
        admin
          .multi()
          .sadd("latest:markets", coinbase, "BTC", "not a market")
          .set(`latest:${coinbase}`, '{"symbol":"BTC","price":-1}')
          .set("latest:BTC", JSON.stringify(legacy(1)))
          .exec()
      )
      const all = yield* c.getAll
      expect(all.map((t) => t.market)).toEqual([binance])
      expect(yield* c.get(coinbase)).toEqual(Option.none())
    })
  )
})
