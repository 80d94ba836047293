import { PgMigrator } from "@effect/sql-pg"
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import init from "./migrations/0001_init.js"

// Migrations are imported, not read from disk, so dist/ runs from anywhere.
export const loader = PgMigrator.fromRecord({
  "0001_init": init
})

export const MigrationsLive = PgMigrator.layer({ loader }).pipe(Layer.provide(NodeContext.layer))
