import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Redacted, String as Str } from "effect"
import * as Schedules from "../Schedules.js"
import * as Embedded from "./Embedded.js"

const names = {
  transformQueryNames: Str.camelToSnake,
  transformResultNames: Str.snakeToCamel,
  // The checkpoint state is JSON we wrote ourselves: its keys must come back untouched.
  transformJson: false
} as const

/** A real Postgres (or TimescaleDB) server; waits for it with backoff when it is not up yet. */
export const server = (url: Redacted.Redacted) =>
  PgClient.layer({
    url,
    maxConnections: 10,
    connectTimeout: Duration.seconds(5),
    idleTimeout: Duration.seconds(60),
    applicationName: "crypto-pipeline",
    ...names
  }).pipe(
    Layer.tapErrorCause((cause) => Effect.logWarning("Postgres is not reachable yet; retrying", cause)),
    Layer.retry(Schedules.databaseStartup)
  )

/**
 * The embedded Postgres (PGlite on a loopback port); one connection, since PGlite is one session. Its database is
 * kept in `dataDir` (whose lock the caller holds), or in memory when none is given.
 */
export const embeddedIn = (dataDir?: string) =>
  Layer.unwrapScoped(
    Effect.map(Embedded.start(dataDir), ({ url }) =>
      PgClient.layer({ url: Redacted.make(url), maxConnections: 1, connectTimeout: Duration.seconds(10), ...names })
    )
  )

/** The embedded Postgres in memory. */
export const embedded = embeddedIn()
