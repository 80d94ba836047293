import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, String as Str } from "effect"
import { describe, it } from "vitest"
import * as Embedded from "../../src/Sql/Embedded.js"
import { checkMigration0005 } from "../support/Migration0005.js"

// The same check on a real Postgres: test/integration/migration-0005.test.ts.
describe("migration 0005 (completeness) on the embedded Postgres", () => {
  it(
    "gives today's candles their status (the newest of each market and interval provisional), and runs again without changing them",
    () =>
      Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(Embedded.start(), ({ url }) => {
            const client = PgClient.layer({
              url: Redacted.make(url),
              maxConnections: 1,
              transformQueryNames: Str.camelToSnake,
              transformResultNames: Str.snakeToCamel
            }).pipe(Layer.orDie)
            return Effect.promise(() => checkMigration0005(url, client))
          })
        )
      ),
    60_000
  )
})
