import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, String as Str } from "effect"
import { describe, it } from "vitest"
import * as Embedded from "../../src/Sql/Embedded.js"
import { checkMigration0004 } from "../support/Migration0004.js"

// The same check on a real Postgres: test/integration/migrations.test.ts.
describe("migration 0004 (markets) on the embedded Postgres", () => {
  it(
    "carries today's rows over with their markets, and runs again without changing them",
    () =>
      Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(Embedded.start(), ({ url }) => {
            // One connection (PGlite is one session), names as src/Sql/Client.ts sets them.
            const client = PgClient.layer({
              url: Redacted.make(url),
              maxConnections: 1,
              transformQueryNames: Str.camelToSnake,
              transformResultNames: Str.snakeToCamel
            }).pipe(Layer.orDie)
            return Effect.promise(() => checkMigration0004(url, client))
          })
        )
      ),
    60_000
  )
})
