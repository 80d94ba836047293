import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Layer, Option } from "effect"
import { parseAge, retentionWarning, TickStorageConfig } from "../../src/Config/Storage.js"
import { describeConfigError } from "../../src/Config.js"
import * as SqlLive from "../../src/Sql/Client.js"
import { MigrationsLive } from "../../src/Sql/Migrations.js"
import { decide, listsTimescale, type Probe, probe } from "../../src/Sql/Timescale.js"

// The TimescaleDB decision from the server's answers. No TimescaleDB build is at hand on CI (Debian has none), so the
// "installed, not preloaded" and "preloaded" branches are driven here by made-up probe answers; the probe itself runs
// against PGlite below and a real Postgres in test/integration/timescale.test.ts.

const answer = (p: Partial<Probe>): Probe => ({
  available: false,
  installed: false,
  loaderPresent: false,
  preloadLibraries: Option.none(),
  ...p
})

describe("the TimescaleDB decision", () => {
  it("no extension on the server: plain tables, no warning", () => {
    expect(decide(answer({}))).toEqual({ _tag: "Plain" })
    expect(decide(answer({ preloadLibraries: Option.some("pg_stat_statements") }))._tag).toBe("Plain")
  })

  it("installed but not preloaded: plain tables, and a warning that says what to change", () => {
    const unreadable = decide(answer({ available: true }))
    expect(unreadable._tag).toBe("NotPreloaded")
    const readable = decide(answer({ available: true, preloadLibraries: Option.some("pg_stat_statements") }))
    expect(readable._tag).toBe("NotPreloaded")
    if (readable._tag !== "NotPreloaded" || unreadable._tag !== "NotPreloaded") return
    expect(readable.warning).toContain("shared_preload_libraries = 'pg_stat_statements'")
    expect(readable.warning).toContain("plain tables")
    expect(unreadable.warning).toContain("cannot read shared_preload_libraries")
    // An empty list is readable and names nothing.
    expect(decide(answer({ available: true, preloadLibraries: Option.some("") }))._tag).toBe("NotPreloaded")
    // Created in the database once, preload removed since: its functions would not load either.
    expect(decide(answer({ available: true, installed: true }))._tag).toBe("NotPreloaded")
  })

  it("preloaded (the loader's setting is there, or the list names it): enable", () => {
    expect(decide(answer({ available: true, loaderPresent: true }))).toEqual({ _tag: "Enable" })
    expect(decide(answer({ available: true, preloadLibraries: Option.some("timescaledb") }))._tag).toBe("Enable")
    expect(decide(answer({ installed: true, loaderPresent: true }))._tag).toBe("Enable")
  })

  it("reads shared_preload_libraries as a list", () => {
    for (const yes of [
      "timescaledb",
      "pg_stat_statements, timescaledb",
      '"timescaledb"',
      "$libdir/timescaledb",
      "TimescaleDB",
      "timescaledb-2.17.2"
    ]) {
      expect(listsTimescale(yes), yes).toBe(true)
    }
    for (const no of ["", "pg_stat_statements", "timescaledb_toolkit", "not_timescaledb", "pg_cron,auto_explain"]) {
      expect(listsTimescale(no), no).toBe(false)
    }
  })
})

describe("TICK_RETENTION and TICK_COMPRESSION_AFTER", () => {
  const read = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.withConfigProvider(TickStorageConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))).pipe(
        Effect.either
      )
    )

  it("default 90 and 7 days; a duration; off in any case", () => {
    const defaults = Either.getOrThrow(read({}))
    expect(Option.map(defaults.retention, Duration.toHours)).toEqual(Option.some(90 * 24))
    expect(Option.map(defaults.compressAfter, Duration.toHours)).toEqual(Option.some(7 * 24))
    const set = Either.getOrThrow(read({ TICK_RETENTION: "400 days", TICK_COMPRESSION_AFTER: " OFF " }))
    expect(Option.map(set.retention, Duration.toHours)).toEqual(Option.some(400 * 24))
    expect(set.compressAfter).toEqual(Option.none())
    expect(parseAge("none")).toEqual(Either.right(Option.none()))
  })

  it("a value that is neither is refused, naming the variable", () => {
    for (const bad of ["90", "forever", "-3 days", "0 days"]) {
      const result = read({ TICK_RETENTION: bad })
      expect(Either.isLeft(result), bad).toBe(true)
      if (Either.isLeft(result)) expect(describeConfigError(result.left).join("\n")).toMatch(/TICK_RETENTION/)
    }
  })

  it("backfill warns when its history reaches past the retention, and only then", () => {
    const ninety = Option.some(Duration.days(90))
    expect(retentionWarning(30, ninety)).toEqual(Option.none())
    expect(retentionWarning(90, ninety)).toEqual(Option.none())
    expect(retentionWarning(365, Option.none())).toEqual(Option.none())
    const warning = Option.getOrThrow(retentionWarning(365, ninety))
    expect(warning).toContain("TICK_RETENTION (90 days)")
    expect(warning).toContain("EVENT time")
    expect(warning).toContain("75%") // (365 - 90) / 365
  })
})

// PGlite has no TimescaleDB: the probe says so and the migrations keep plain tables.
layer(MigrationsLive.pipe(Layer.provideMerge(SqlLive.embedded)), { timeout: 120_000 })("on PGlite", (it) => {
  it.effect("the probe finds no extension, and the tables stay plain", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const found = yield* probe(sql)
      expect(found).toMatchObject({ available: false, installed: false, loaderPresent: false })
      expect(decide(found)).toEqual({ _tag: "Plain" })
      const ticks = yield* sql`SELECT 1 FROM pg_tables WHERE tablename = 'ticks'`
      expect(ticks).toHaveLength(1)
    })
  )
})
