import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as SqlLive from "../../src/Sql/Client.js"
import { migrationsLayer } from "../../src/Sql/Migrations.js"
import { decide, probe } from "../../src/Sql/Timescale.js"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { services } from "./support.js"

// The TimescaleDB probe against a real PostgreSQL without the extension (Debian has no TimescaleDB build, so this is
// the branch CI covers; the others are in test/Sql/Timescale.test.ts): the server's answers, read by the app's role,
// which is no superuser, and a migration that keeps plain tables and succeeds.
describe("TimescaleDB probe on a real Postgres without it", () => {
  const env = services()
  const name = unique("tsdb")
  afterAll(() => dropDatabase(env.databaseUrl, name))

  it("reads the server's answers, decides on plain tables, and migrates with any policy settings", async () => {
    const url = await createDatabase(env.databaseUrl, name)
    const client = SqlLive.server(Redacted.make(url))
    const found = await Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, probe).pipe(Effect.provide(client), Effect.scoped)
    )
    // The same facts, asked independently of src.
    const [facts] = await query<{ available: boolean; superuser: boolean }>(
      url,
      `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
         (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`
    )
    expect(found.available).toBe(facts?.available)
    expect(found.installed).toBe(false)
    expect(found.loaderPresent).toBe(false)
    // The app's role may not read shared_preload_libraries; a superuser would.
    expect(Option.isSome(found.preloadLibraries)).toBe(facts?.superuser)
    expect(decide(found)).toEqual({ _tag: "Plain" })

    const storage = { retention: Option.none(), compressAfter: Option.none() }
    await Effect.runPromise(Layer.build(migrationsLayer(storage)).pipe(Effect.provide(client), Effect.scoped))
    const tables = await query<{ tablename: string }>(
      url,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('ticks', 'candles') ORDER BY 1"
    )
    expect(tables.map((t) => t.tablename)).toEqual(["candles", "ticks"])
    expect(await query(url, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).toHaveLength(0)
  }, 90_000)
})
