import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Data, Effect, Metric, Schedule } from "effect"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Postgres's buffer pool inside PGlite's WebAssembly memory. PGlite keeps Postgres's default of 128MB, and WebAssembly
 * memory once touched is never given back: the pool filled by a day of history stayed resident for the life of the
 * process. The embedded database is small (a few days of candles) and its files sit in the OS page cache anyway.
 */
const SHARED_BUFFERS = "16MB"

/** The size of PGlite's WebAssembly memory (it only grows), for /metrics. */
export const wasmMemoryBytes = Metric.gauge("embedded_postgres_wasm_memory_bytes", {
  description: "Size of the embedded Postgres's (PGlite's) WebAssembly memory; it grows and never shrinks"
})

const memoryOf = (db: PGlite): number => {
  // `mod` is PGlite's Emscripten module: not in its types, so read defensively.
  const heap = (db as unknown as { readonly mod?: { readonly HEAPU8?: Uint8Array } }).mod?.HEAPU8
  return heap?.byteLength ?? 0
}

/**
 * A fresh data directory is initialised (initdb, a WebAssembly module of its own) in a short-lived child process. Done
 * in this process it left about 100 MB resident for good (measured: bench idle, no-history against restart): the memory
 * glibc and V8 keep after compiling and running it. The child's exit gives it all back; this process then opens the
 * initialised directory as on any later start. Where the child cannot run (no `import.meta.resolve`, as under a test
 * transform), PGlite initialises in-process, as before.
 */
const initInChild = (dataDir: string): Promise<boolean> => {
  if (dataDir.startsWith("memory:") || existsSync(join(dataDir, "PG_VERSION"))) return Promise.resolve(false)
  const resolve = (import.meta as { readonly resolve?: (specifier: string) => string }).resolve
  if (typeof resolve !== "function") return Promise.resolve(false)
  const script =
    `const { PGlite } = await import(${JSON.stringify(resolve("@electric-sql/pglite"))});` +
    "const db = await PGlite.create({ dataDir: process.argv[1] }); await db.close()"
  return new Promise((done, fail) =>
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script, dataDir],
      { timeout: 300_000 },
      (error, _, stderr) =>
        error ? fail(new Error(`initdb in a child process failed: ${stderr.trim() || error.message}`)) : done(true)
    )
  )
}

/**
 * An embedded Postgres (PGlite, Postgres compiled to WebAssembly) served on a loopback port, so the
 * very same @effect/sql-pg client, SQL and migrations run against it as against a real server.
 * PGlite is a single session: clients must use one connection (queries queue).
 */
export const start = (dataDir = "memory://") =>
  Effect.gen(function* () {
    const started = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await initInChild(dataDir)
          const db = await PGlite.create({
            dataDir,
            startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${SHARED_BUFFERS}`]
          })
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
    yield* Effect.suspend(() => Metric.set(wasmMemoryBytes, memoryOf(started.db))).pipe(
      Effect.repeat(Schedule.spaced("5 seconds")),
      Effect.forkScoped
    )
    return started
  })
