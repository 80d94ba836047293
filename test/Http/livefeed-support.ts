import { Effect, Layer, Logger, LogLevel, Queue, Stream } from "effect"
import { CacheUnavailable, type FeedItem, LatestCache } from "../../src/Cache/LatestCache.js"
import * as MemoryCache from "../../src/Cache/Memory.js"
import type { Update } from "../../src/Domain/Update.js"
import { type Client, make } from "../../src/Http/LiveFeed.js"

// What the live feed's tests share: a client that records what the feed writes to it, and the feed on a cache.

const decoder = new TextDecoder()

/** One event as a client reads it back: its id (0: none), its name, its JSON data. */
export interface Recorded {
  readonly id: number
  readonly event: string
  readonly data: Record<string, unknown>
}

/** A client that keeps every write (as text, and the byte arrays themselves), and reads its events back. */
export const recorder = (wanted?: ReadonlyArray<string>) => {
  const writes: Array<Uint8Array> = []
  const client: Client = {
    wanted: wanted === undefined ? undefined : new Set(wanted),
    write: (b) => void writes.push(b)
  }
  const text = () => writes.map((w) => decoder.decode(w)).join("")
  const ids = () => [...text().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
  /** Every event, `status` ones too. */
  const events = (): Array<Recorded> =>
    [...text().matchAll(/^(?:id: (\d+)\n)?event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
      id: Number(m[1] ?? 0),
      event: m[2]!,
      data: JSON.parse(m[3]!) as Record<string, unknown>
    }))
  /** Every event but `status` (sent on each connection and on each change of the cache's state). */
  const updates = () => events().filter((e) => e.event !== "status")
  /** `<event> <market>` of each update. */
  const seen = () => updates().map((e) => `${e.event} ${e.data["market"]}`)
  return { client, writes, text, ids, events, updates, seen }
}

/**
 * Lets the feed's fibers take what was offered (no I/O in between: the embedded cache and the queue hand updates over
 * within the runtime), then the feed's end-of-turn flush (a setImmediate queued before this one) run.
 */
export const settle = Effect.zipRight(
  Effect.repeatN(Effect.yieldNow(), 20),
  Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
)

/**
 * The feed on the embedded cache (src/Cache/Memory.ts, what the service runs without Redis): `send` writes a batch of
 * updates to the cache as the processor's cache writer does, and waits for the feed to pass them on.
 */
export const onMemoryCache = (replay = 100) =>
  Effect.gen(function* () {
    const cache = yield* MemoryCache.make("1 minute")
    const feed = yield* make({ replay }).pipe(
      Effect.provideService(LatestCache, cache),
      Logger.withMinimumLogLevel(LogLevel.None)
    )
    yield* settle // the feed's subscription is taken before the first write
    const write = (...batch: ReadonlyArray<Update>) => cache.write([], batch)
    const send = (...batch: ReadonlyArray<Update>) => Effect.zipRight(write(...batch), settle)
    return { feed, write, send }
  })

/**
 * The feed on a cache whose update stream comes from a queue, for what the embedded cache cannot do: "fail" ends the
 * subscription as a lost Redis connection does.
 */
export const onFailingCache = Effect.gen(function* () {
  const input = yield* Queue.unbounded<ReadonlyArray<Update> | "fail">()
  let next = 1
  const entries = Stream.fromQueue(input).pipe(
    Stream.mapConcatEffect((x) =>
      x === "fail"
        ? Effect.fail(new CacheUnavailable({ message: "lost" }))
        : Effect.sync(() =>
            x.map((update): FeedItem => {
              const n = next++
              return { _tag: "entry", id: { ms: n, seq: 0, text: String(n) }, update }
            })
          )
    )
  )
  // Like the embedded cache: from now, nothing lost across a resubscription.
  const updates = () =>
    Stream.concat(
      Stream.sync(
        (): FeedItem => ({ _tag: "origin", after: { ms: next - 1, seq: 0, text: String(next - 1) }, lost: false })
      ),
      entries
    )
  const cache = Layer.succeed(
    LatestCache,
    LatestCache.of({
      kind: "memory",
      write: () => Effect.void,
      getAll: Effect.succeed([]),
      get: () => Effect.die("unused"),
      updates,
      newest: Effect.sync(() => (next > 1 ? { ms: next - 1, seq: 0, text: String(next - 1) } : undefined)),
      isUp: Effect.succeed(true)
    })
  )
  const feed = yield* make({ replay: 100 }).pipe(Effect.provide(cache), Logger.withMinimumLogLevel(LogLevel.None))
  const send = (...batch: ReadonlyArray<Update>) => Effect.zipRight(input.offer(batch), settle)
  return { feed, input, send }
})
