import { Effect, Either, Layer, Option, Redacted } from "effect"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import { isMarket, type Market } from "../Domain/Market.js"
import { decodeTick, marketOf, type Tick } from "../Domain/Tick.js"
import type { Update } from "../Domain/Update.js"
import {
  byMarket,
  CacheUnavailable,
  channel,
  LatestCache,
  latestKey,
  marketsKey,
  retained,
  streamKey,
  withMarket
} from "./LatestCache.js"
import { feed, newestOf } from "./RedisFeed.js"

const unavailable = (cause: unknown) =>
  new CacheUnavailable({ message: `Redis: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

// Fail fast while Redis is down, so requests get their 503 at once; reconnect in the background forever.
const failFast: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 500,
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 100, 2_000),
  lazyConnect: true
}

// PUBLISH of each message in order, and XADD of it to the stream whose ids every `api` instance shares (trimmed once
// per call, approximately: whole nodes), in one command: a PUBLISH per update cost the processor a few µs each in
// ioredis alone (a command object and a timeout timer), and the server a command parse each. Redis caches the script.
const publishAll = `for i = 2, #ARGV do
  redis.call('PUBLISH', KEYS[1], ARGV[i])
  redis.call('XADD', KEYS[2], '*', 'u', ARGV[i])
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[1])`
const publishChunk = 5_000

const connect = (url: Redacted.Redacted, options: RedisOptions, name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new IORedis(Redacted.value(url), { ...options, connectionName: name })
      // Without a listener ioredis prints every reconnect failure; the state is reported by isUp/503s instead.
      client.on("error", () => undefined)
      // The first connect may fail (Redis not up yet): the client keeps retrying in the background.
      client.connect().catch(() => undefined)
      return client
    }),
    (client) =>
      Effect.promise(() => client.quit()).pipe(
        Effect.timeout("2 seconds"),
        Effect.orElse(() => Effect.sync(() => client.disconnect())),
        Effect.ignore
      )
  )

type Use = <A>(f: (c: IORedis) => Promise<A>) => Effect.Effect<A, CacheUnavailable>

/** One pipelined write: SETEX each tick's latest, SADD their markets, PUBLISH and XADD the updates. */
const writer = (use: Use, ttlSeconds: number) => (ticks: ReadonlyArray<Tick>, updates: ReadonlyArray<Update>) =>
  use(async (c) => {
    const pipeline = c.pipeline()
    // JSON.stringify is the schemas' encoding here (Tick and Candle are plain fields in schema order, Update a
    // tagged struct), without re-checking values the processor built from decoded ticks: this runs per update.
    const markets = new Set(ticks.map(marketOf))
    for (const t of ticks) pipeline.setex(latestKey(marketOf(t)), ttlSeconds, JSON.stringify(t))
    if (markets.size > 0) pipeline.sadd(marketsKey, ...markets)
    const messages = updates.map((u) => JSON.stringify(u))
    for (let i = 0; i < messages.length; i += publishChunk) {
      pipeline.eval(publishAll, 2, channel, streamKey, retained, ...messages.slice(i, i + publishChunk))
    }
    const results = await pipeline.exec()
    const failed = results?.find(([error]) => error !== null)
    if (failed) throw failed[0]
  })

/**
 * The cache on Redis: SETEX latest:<market> per tick, SADD latest:markets, PUBLISH crypto:updates and XADD
 * crypto:events, pipelined per batch; reads fail fast while Redis is away; the feed (RedisFeed.ts) reads the stream on a
 * connection of its own.
 */
export const make = (url: Redacted.Redacted, ttlSeconds: number) =>
  Effect.gen(function* () {
    const client = yield* connect(url, failFast, "crypto-pipeline")
    const use: Use = (f) =>
      client.status === "ready"
        ? Effect.tryPromise({ try: () => f(client), catch: unavailable })
        : Effect.fail(new CacheUnavailable({ message: `Redis is ${client.status}` }))

    const write = writer(use, ttlSeconds)

    // Both reads in one promise: /api/latest's hot path, where each async step of a fiber was a visible cost.
    // Suspended: `use` looks at the connection's state when it runs.
    const getAll = Effect.suspend(() =>
      use(async (c) => {
        // The market set instead of KEYS, which scans the whole keyspace; expired markets read as null.
        const markets = (await c.smembers(marketsKey)).filter(isMarket)
        return markets.length === 0 ? [] : await c.mget(...markets.map(latestKey))
      })
    ).pipe(
      // Decoded like any outside input: a foreign or corrupt value is skipped, never served.
      Effect.map((values) =>
        values
          .flatMap((v) => (v === null ? [] : Option.toArray(Either.getRight(decodeTick(v)))))
          .map(withMarket)
          .sort(byMarket)
      )
    )

    const get = (market: Market) =>
      Effect.map(
        use((c) => c.get(latestKey(market))),
        (v) => (v === null ? Option.none<Tick>() : Option.map(Either.getRight(decodeTick(v)), withMarket))
      )

    return LatestCache.of({
      kind: "redis",
      write,
      getAll,
      get,
      updates: feed(url),
      newest: use((c) => c.xrevrange(streamKey, "+", "-", "COUNT", 1)).pipe(Effect.map(newestOf)),
      isUp: Effect.sync(() => client.status === "ready")
    })
  })

export const layer = (url: Redacted.Redacted, ttlSeconds: number) => Layer.scoped(LatestCache, make(url, ttlSeconds))
