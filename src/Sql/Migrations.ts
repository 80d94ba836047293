import { PgMigrator } from "@effect/sql-pg"
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import init from "./migrations/0001_init.js"
import fencing from "./migrations/0002_fencing.js"

// Migrations are imported, not read from disk, so dist/ runs from anywhere.
export const loader = PgMigrator.fromRecord({
  "0001_init": init,
  "0002_fencing": fencing
})

export const MigrationsLive = PgMigrator.layer({ loader }).pipe(Layer.provide(NodeContext.layer))
