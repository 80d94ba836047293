import { Chunk, Deferred, Effect, Either, Exit, Option, Redacted, Schema, Stream } from "effect"
import { Redis as IORedis } from "ioredis"
import { decodeUpdate } from "../Domain/Update.js"
import { compare, type EventId, parse } from "./EventId.js"
import { CacheUnavailable, type Entry, type FeedItem, type Origin, streamKey } from "./LatestCache.js"

// The shared feed read from the `crypto:events` stream: XREAD BLOCK from the last id on a connection of its own (a
// blocked XREAD holds it), one per `api` instance. The ids are the stream's, so they mean the same on every instance.

const unavailable = (cause: unknown) =>
  new CacheUnavailable({ message: `Redis: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/** Entries per XREAD: a batch of the processor's is read in a few round trips. */
const readCount = 2_000

/** XREAD's and XRANGE's answers: `[[stream, [[id, [field, value, …]], …]]]` or null (nothing), entries `[[id, fields]]`. */
const StreamEntries = Schema.Array(Schema.Tuple(Schema.String, Schema.Array(Schema.String)))
const XReadReply = Schema.NullOr(Schema.Array(Schema.Tuple(Schema.String, StreamEntries)))
const decodeXRead = Schema.decodeUnknownEither(XReadReply)
const decodeXRange = Schema.decodeUnknownEither(StreamEntries)

/** The entries of one answer: each id checked, each message decoded as an Update (a foreign entry is skipped). */
const entriesOf = (entries: ReadonlyArray<readonly [string, ReadonlyArray<string>]>): Array<Entry> => {
  const out: Array<Entry> = []
  for (const [text, fields] of entries) {
    const id = parse(text)
    const message = fields[0] === "u" ? fields[1] : undefined
    if (id === undefined || message === undefined) continue
    const update = decodeUpdate(message)
    if (Option.isSome(update)) out.push({ _tag: "entry", id, update: update.value })
  }
  return out
}

/** The id of the one entry of an XREVRANGE … COUNT 1 (none: the stream is empty or gone). */
export const newestOf = (reply: unknown): EventId | undefined =>
  Either.match(decodeXRange(reply), {
    onLeft: () => undefined,
    onRight: ([e]) => (e === undefined ? undefined : parse(e[0]))
  })

const connect = (url: Redacted.Redacted) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new IORedis(Redacted.value(url), {
        // Commands wait for the connection; one lost with it fails (resent, a blocked XREAD would hide the outage).
        enableOfflineQueue: true,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: null,
        connectTimeout: 2_000,
        retryStrategy: (times) => Math.min(times * 100, 2_000),
        lazyConnect: true,
        connectionName: "crypto-pipeline-feed"
      })
      client.on("error", () => undefined)
      client.connect().catch(() => undefined)
      return client
    }),
    // A reader has nothing to flush, and QUIT would wait behind a blocked XREAD.
    (client) => Effect.sync(() => client.disconnect())
  )

/**
 * Where a subscription starts. The first (no `after`): from the stream's oldest entry, what came before unknown. A
 * resubscription: after `after`, unless the stream no longer holds what followed it (its oldest entry is newer, or
 * the stream is gone: Redis restarted), then `lost`.
 */
const originOf = (client: IORedis, after: EventId | undefined) =>
  after === undefined
    ? Effect.succeed<Origin>({ _tag: "origin", after: undefined, lost: false })
    : Effect.tryPromise({ try: () => client.xrange(streamKey, "-", "+", "COUNT", 1), catch: unavailable }).pipe(
        Effect.map((reply): Origin => {
          const oldest = Either.match(decodeXRange(reply), { onLeft: () => [], onRight: entriesOf })[0]
          const lost = oldest === undefined || compare(oldest.id, after) > 0
          return { _tag: "origin", after: lost ? undefined : after, lost }
        })
      )

/** The feed after `after` (none: the stream's whole window first), until the connection is lost. */
export const feed = (url: Redacted.Redacted) => (after?: EventId) =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const client = yield* connect(url)
      const closed = yield* Deferred.make<never, CacheUnavailable>()
      client.on("close", () =>
        Deferred.unsafeDone(closed, Exit.fail(new CacheUnavailable({ message: "Redis feed connection lost" })))
      )
      const origin = yield* Effect.raceFirst(originOf(client, after), Deferred.await(closed))
      let position = after?.text ?? "0-0"
      const read = Effect.tryPromise({
        try: () => client.xread("COUNT", readCount, "BLOCK", 0, "STREAMS", streamKey, position),
        catch: unavailable
      }).pipe(
        Effect.flatMap((reply) =>
          Either.match(decodeXRead(reply), {
            onLeft: (e) => Effect.fail(unavailable(new Error(`unexpected XREAD answer: ${e.message}`))),
            onRight: (streams) => {
              const entries = streams?.[0]?.[1] ?? []
              const last = entries[entries.length - 1]
              if (last !== undefined) position = last[0]
              return Effect.succeed(Chunk.unsafeFromArray<FeedItem>(entriesOf(entries)))
            }
          })
        )
      )
      return Stream.concat(
        Stream.make<Array<FeedItem>>(origin),
        Stream.repeatEffectChunk(Effect.raceFirst(read, Deferred.await(closed)))
      )
    })
  )
