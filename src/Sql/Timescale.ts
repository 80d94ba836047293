import { SqlClient } from "@effect/sql"
import { Duration, Effect, Option } from "effect"
import { describeAge, type TickStorage } from "../Config/Storage.js"

/**
 * TimescaleDB where the server can run it, plain tables otherwise; run after the migrations at every start (each step
 * is idempotent), so a server that gains the extension later, or a changed TICK_RETENTION, is picked up.
 *
 * `CREATE EXTENSION timescaledb` on a server that has the package installed but not in `shared_preload_libraries`
 * (what a plain package install gives) ends the connection: no savepoint catches that. So the server is asked first.
 * The preloaded loader defines the `timescaledb.disable_load` setting in every backend, readable by any role;
 * `shared_preload_libraries` itself is readable only by superusers (and pg_read_all_settings), so it only goes into
 * the warning when it can be read.
 */

/** What the server says, before anything is created. */
export interface Probe {
  /** A timescaledb.control on the server (pg_available_extensions). */
  readonly available: boolean
  /** CREATE EXTENSION was done in this database already (pg_extension). */
  readonly installed: boolean
  /** The loader's setting is defined in this session: the library was preloaded. */
  readonly loaderPresent: boolean
  /** shared_preload_libraries, when this role may read it. */
  readonly preloadLibraries: Option.Option<string>
}

export type Decision =
  | { readonly _tag: "Plain" }
  | { readonly _tag: "NotPreloaded"; readonly warning: string }
  | { readonly _tag: "Enable" }

/** Whether shared_preload_libraries names timescaledb (a list, maybe quoted, maybe a path or a versioned name). */
export const listsTimescale = (libraries: string): boolean =>
  libraries
    .split(",")
    .map((l) => l.trim().replace(/^"|"$/g, "").toLowerCase())
    .some((l) => /(^|\/)timescaledb(-[0-9][0-9a-z.-]*)?(\.so)?$/.test(l))

/** The decision, from the probe alone (unit-tested with made-up answers; CI's Postgres has no TimescaleDB). */
export const decide = (probe: Probe): Decision => {
  if (!probe.available && !probe.installed) return { _tag: "Plain" }
  const preloaded = probe.loaderPresent || Option.exists(probe.preloadLibraries, listsTimescale)
  if (preloaded) return { _tag: "Enable" }
  const setting = Option.match(probe.preloadLibraries, {
    onNone: () => "this role cannot read shared_preload_libraries",
    onSome: (s) => `shared_preload_libraries = '${s}'`
  })
  return {
    _tag: "NotPreloaded",
    warning:
      `TimescaleDB is ${probe.installed ? "created in this database" : "installed on the server"} but not preloaded ` +
      `(${setting}); using plain tables: no hypertables, no compression, no retention. To use it, add timescaledb to ` +
      `shared_preload_libraries in postgresql.conf, restart the server, and start again (this step runs at every start).`
  }
}

export const probe = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const [row] = yield* sql<{
      readonly available: boolean
      readonly installed: boolean
      readonly loader: string | null
    }>`SELECT
        EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed,
        current_setting('timescaledb.disable_load', true) AS loader`
    // pg_settings leaves out the rows this role may not see: no row, no error.
    const preload = yield* sql<{ readonly setting: string }>`
      SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'`
    return {
      available: row?.available === true,
      installed: row?.installed === true,
      loaderPresent: row?.loader !== null && row?.loader !== undefined && row.loader !== "",
      preloadLibraries: Option.fromNullable(preload[0]?.setting)
    } satisfies Probe
  })

const interval = (d: Duration.Duration) => `${Math.round(Duration.toMillis(d) / 1000)} seconds`

/** The configured policy, if it differs from the one the job has (or there is none): remove, then add. */
const syncPolicy = (
  sql: SqlClient.SqlClient,
  kind: { readonly proc: string; readonly key: string; readonly remove: string; readonly add: string },
  age: Option.Option<Duration.Duration>
) =>
  Effect.gen(function* () {
    const wanted = Option.map(age, interval)
    const same = yield* sql<{ readonly same: boolean }>`
      SELECT (config->>${kind.key})::interval = ${Option.getOrElse(wanted, () => "0 seconds")}::interval AS same
      FROM timescaledb_information.jobs WHERE proc_name = ${kind.proc} AND hypertable_name = 'ticks'`
    if (Option.isNone(wanted) && same.length === 0) return
    if (Option.isSome(wanted) && same.length === 1 && same[0]?.same === true) return
    yield* sql.unsafe(`SELECT ${kind.remove}('ticks', if_exists => true)`)
    if (Option.isSome(wanted)) yield* sql.unsafe(`SELECT ${kind.add}('ticks', $1::interval)`, [wanted.value])
  })

const enable = (sql: SqlClient.SqlClient, storage: TickStorage) =>
  sql.withTransaction(
    Effect.gen(function* () {
      // Processes starting together (three processors) take turns: concurrent CREATEs and policy changes would race.
      yield* sql`SELECT pg_advisory_xact_lock(hashtext('crypto-pipeline:timescale'))`
      yield* sql`CREATE EXTENSION IF NOT EXISTS timescaledb`
      yield* sql`SELECT create_hypertable('ticks', 'event_time', chunk_time_interval => INTERVAL '1 day',
        if_not_exists => TRUE, migrate_data => TRUE)`
      yield* sql`SELECT create_hypertable('candles', 'bucket_start', chunk_time_interval => INTERVAL '7 days',
        if_not_exists => TRUE, migrate_data => TRUE)`
      if (Option.isSome(storage.compressAfter)) {
        const on = yield* sql`SELECT 1 FROM timescaledb_information.hypertables
          WHERE hypertable_name = 'ticks' AND compression_enabled`
        if (on.length === 0) {
          yield* sql`ALTER TABLE ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'market')`
        }
      }
      const compression = {
        proc: "policy_compression",
        key: "compress_after",
        remove: "remove_compression_policy",
        add: "add_compression_policy"
      }
      yield* syncPolicy(sql, compression, storage.compressAfter)
      const retention = {
        proc: "policy_retention",
        key: "drop_after",
        remove: "remove_retention_policy",
        add: "add_retention_policy"
      }
      yield* syncPolicy(sql, retention, storage.retention)
    })
  )

const describeStorage = (storage: TickStorage) =>
  `ticks compressed after ${Option.match(storage.compressAfter, { onNone: () => "never", onSome: describeAge })}, ` +
  `dropped after ${Option.match(storage.retention, { onNone: () => "never (TICK_RETENTION=off)", onSome: describeAge })} ` +
  "of event time"

/** Probe, decide, and make the hypertables and policies when the extension can load. Never fails the start. */
export const apply = (storage: TickStorage) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const decision = decide(yield* probe(sql))
    if (decision._tag === "Plain") return decision
    if (decision._tag === "NotPreloaded") {
      yield* Effect.logWarning(decision.warning)
      return decision
    }
    yield* enable(sql, storage)
    yield* Effect.logInfo(`TimescaleDB: hypertables ticks and candles; ${describeStorage(storage)}`)
    return decision
  }).pipe(
    Effect.catchAll((error) =>
      Effect.as(Effect.logWarning("TimescaleDB could not be set up; using plain tables", error), {
        _tag: "Plain"
      } as Decision)
    )
  )
