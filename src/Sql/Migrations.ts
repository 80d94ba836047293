import { NodeContext } from "@effect/platform-node"
import { PgMigrator } from "@effect/sql-pg"
import { Cause, Duration, Effect, Layer, Schedule } from "effect"
import init from "./migrations/0001_init.js"
import fencing from "./migrations/0002_fencing.js"
import deadLetters from "./migrations/0003_dead_letters.js"
import markets from "./migrations/0004_markets.js"
import completeness from "./migrations/0005_completeness.js"

// Migrations are imported, not read from disk, so dist/ runs from anywhere.
export const loader = PgMigrator.fromRecord({
  "0001_init": init,
  "0002_fencing": fencing,
  "0003_dead_letters": deadLetters,
  "0004_markets": markets,
  "0005_completeness": completeness
})

/**
 * Several processes may start on a fresh database at once. The migrator serialises runs with a LOCK TABLE on its
 * bookkeeping table, but creating that table races (both see it missing, one CREATE fails), and it turns failures into
 * defects. So: a failed run, defect or error, is retried a few times; the second run finds the table and waits on the lock.
 */
export const migrate = PgMigrator.run({ loader }).pipe(
  Effect.catchAllDefect((defect) => Effect.fail(defect)),
  Effect.tapError((e) => Effect.logWarning("migration failed; retrying", Cause.fail(e))),
  Effect.retry({ times: 4, schedule: Schedule.exponential(Duration.millis(200)) }),
  Effect.provide(NodeContext.layer)
)

export const MigrationsLive = Layer.effectDiscard(migrate)
