import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Data, Effect } from "effect"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * An embedded Postgres (PGlite, Postgres compiled to WebAssembly) served on a loopback port, so the
 * very same @effect/sql-pg client, SQL and migrations run against it as against a real server.
 * PGlite is a single session: clients must use one connection (queries queue).
 */
export const start = (dataDir = "memory://") =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const db = await PGlite.create({ dataDir })
        const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 })
        await server.start()
        return { db, server, url: `postgres://postgres@${server.getServerConn()}/postgres` }
      },
      catch: (cause) =>
        new EmbeddedPostgresError({ message: `could not start the embedded Postgres: ${String(cause)}`, cause })
    }),
    ({ db, server }) =>
      Effect.promise(async () => {
        await server.stop()
        await db.close()
      }).pipe(Effect.timeout("5 seconds"), Effect.ignore)
  )
