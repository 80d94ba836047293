import { join } from "node:path"
import { Duration, Effect, Layer, Option } from "effect"
import { Bus } from "./Bus/Bus.js"
import * as KafkaBus from "./Bus/Kafka.js"
import * as MemoryBus from "./Bus/Memory.js"
import * as MemoryCache from "./Cache/Memory.js"
import * as RedisCache from "./Cache/Redis.js"
import { type AppConfig, UsageError } from "./Config.js"
import * as StatusServer from "./Producer/StatusServer.js"
import * as SqlClient from "./Sql/Client.js"
import { migrationsLayer } from "./Sql/Migrations.js"
import * as Lock from "./Storage/Lock.js"
import * as Store from "./Store/Store.js"

/**
 * The only place that knows which world the process runs in: each adapter is the real service when its URL
 * is set and the embedded one otherwise.
 */
export const bus = (config: AppConfig) =>
  Option.match(config.infra.kafkaBrokers, {
    onNone: () =>
      Option.match(config.data.dataDir, {
        onNone: () => MemoryBus.layer(),
        onSome: (dir) =>
          Layer.scoped(
            Bus,
            Effect.zipRight(
              holdDataDir(dir),
              Effect.map(
                MemoryBus.makeOnDiskWithGroups({
                  dir: join(dir, "log"),
                  retentionMs: config.data.retentionHours * 3_600_000,
                  retentionBytes: config.data.retentionBytes
                }),
                ({ bus }) => bus
              )
            )
          )
      }),
    onSome: (brokers) => KafkaBus.layer({ brokers })
  })

/** DATA_DIR's lock, for as long as an embedded adapter keeps its data there; held by another process: a usage error. */
const holdDataDir = (dir: string) =>
  Lock.acquire(dir).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))

export const cache = (config: AppConfig) =>
  Option.match(config.infra.redisUrl, {
    onNone: () => MemoryCache.layer(config.processor.latestTtl),
    onSome: (url) => RedisCache.layer(url, Math.max(1, Math.ceil(Duration.toSeconds(config.processor.latestTtl))))
  })

/** The SQL client (a real server, or the embedded Postgres) with migrations applied, and the Store on top. */
export const store = (config: AppConfig) =>
  Store.layer.pipe(
    Layer.provideMerge(migrationsLayer(config.storage)),
    Layer.provideMerge(
      Option.match(config.infra.databaseUrl, {
        onNone: () =>
          Option.match(config.data.dataDir, {
            onNone: () => SqlClient.embedded,
            // The lock first, held as long as the database is open.
            onSome: (dir) => Layer.unwrapScoped(Effect.as(holdDataDir(dir), SqlClient.embeddedIn(join(dir, "pg"))))
          }),
        onSome: SqlClient.server
      })
    )
  )

/** A stage run alone needs real services to talk to: embedded ones live inside a single process. */
export const requireShared = (
  config: AppConfig,
  command: string,
  needs: ReadonlyArray<"KAFKA_BROKERS" | "REDIS_URL" | "DATABASE_URL">
) => {
  const set = {
    KAFKA_BROKERS: Option.isSome(config.infra.kafkaBrokers),
    REDIS_URL: Option.isSome(config.infra.redisUrl),
    DATABASE_URL: Option.isSome(config.infra.databaseUrl)
  }
  const missing = needs.filter((n) => !set[n])
  return missing.length === 0
    ? Effect.void
    : Effect.fail(
        new UsageError({
          message:
            `${command} runs alone only against shared services: set ${missing.join(", ")} ` +
            `(the embedded adapters live inside one process; \`service\` runs every stage on them)`
        })
      )
}

/** STATUS_PORT, when set: /health, /ready (the bus) and /metrics for a process that has no HTTP API of its own. */
export const serveStatus = (config: AppConfig) =>
  Option.match(config.producer.statusPort, {
    onNone: () => Effect.void,
    onSome: (port) => StatusServer.serve({ topic: config.topic.topic, port, host: config.http.host })
  })
