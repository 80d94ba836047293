import { Redacted } from "effect"
import { describe, it } from "vitest"
import * as SqlClient from "../../src/Sql/Client.js"
import { createDatabase, unique } from "../../support/services.mjs"
import { checkMigration0005 } from "../support/Migration0005.js"
import { services } from "./support.js"

describe("migration 0005 on a real Postgres", () => {
  const env = services()

  it("0005 (completeness) gives today's candles their status, and runs again without changing them", async () => {
    const url = await createDatabase(env.databaseUrl, unique("mig"))
    await checkMigration0005(url, SqlClient.server(Redacted.make(url)))
  }, 60_000)
})
