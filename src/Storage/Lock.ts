import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Data, Effect } from "effect"

export class DataDirError extends Data.TaggedError("DataDirError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * One process per DATA_DIR: `<dir>/lock` holds the holder's pid and its start time (so a reused pid is not taken for
 * the holder). It is created whole and atomically (written aside, then hard-linked into place: the link fails when
 * the file exists). A lock whose holder is gone is taken over, with a warning. Within one process the lock is
 * shared (the embedded log and PGlite both take it) and released when its last user's scope closes.
 */

interface Holder {
  readonly pid: number
  readonly started: string
}

/** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22); "" where /proc is missing. */
const startTimeOf = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : ""
  }
}

const isAlive = (holder: Holder): boolean => {
  if (holder.pid === process.pid) return false // not us: we do not hold it yet (e.g. pid 1 in a new container)
  try {
    process.kill(holder.pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false
  }
  const started = startTimeOf(holder.pid)
  if (started === undefined) return false
  return started === "" || holder.started === "" || started === holder.started
}

const parseHolder = (text: string): Holder | undefined => {
  const m = /^(\d+)(?: (\S*))?\n?$/.exec(text)
  return m === null ? undefined : { pid: Number(m[1]), started: m[2] ?? "" }
}

const readHolder = (path: string): Holder | "missing" | "unreadable" => {
  try {
    return parseHolder(readFileSync(path, "utf8")) ?? "unreadable"
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing"
    throw e
  }
}

/** Tries to link our lock file into place once; true when we hold it. */
const tryLink = (mine: string, lock: string): boolean => {
  try {
    linkSync(mine, lock)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  }
}

/**
 * Takes `<dir>/lock`, or says who holds it. A stale lock is moved aside by rename (atomic: of two processes taking it
 * over, one rename finds nothing) and checked to be the one judged stale before ours is linked.
 */
const take = (dir: string): { readonly takenOver?: Holder } => {
  mkdirSync(dir, { recursive: true })
  const lock = join(dir, "lock")
  const mine = join(dir, `lock.${process.pid}.tmp`)
  writeFileSync(mine, `${process.pid} ${startTimeOf(process.pid) ?? ""}\n`)
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (tryLink(mine, lock)) return {}
      const holder = readHolder(lock)
      if (holder === "missing") continue
      if (holder !== "unreadable" && isAlive(holder)) {
        throw new DataDirError({
          message:
            `DATA_DIR ${dir} is in use by process ${holder.pid} (${lock}): two processes on one data directory would ` +
            "corrupt it. Stop that process, or give this one another DATA_DIR (or DATA_DIR=memory)"
        })
      }
      const aside = join(dir, `lock.stale.${process.pid}`)
      try {
        renameSync(lock, aside)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue
        throw e
      }
      const moved = readHolder(aside)
      if (typeof moved === "object" && isAlive(moved)) {
        // Another process took the stale lock over between our read and our rename: give it back.
        tryLink(aside, lock)
        unlinkSync(aside)
        continue
      }
      unlinkSync(aside)
      if (tryLink(mine, lock)) return typeof moved === "object" ? { takenOver: moved } : {}
    }
    throw new DataDirError({ message: `DATA_DIR ${dir}: could not take ${lock} (it keeps changing hands)` })
  } finally {
    unlinkSync(mine)
  }
}

const release = (dir: string) => {
  const lock = join(dir, "lock")
  try {
    const holder = readHolder(lock)
    if (holder !== "missing" && holder !== "unreadable" && holder.pid === process.pid) unlinkSync(lock)
  } catch {
    // the next start takes a stale lock over
  }
}

const held = new Map<string, number>()

/** Holds DATA_DIR's lock for the scope (shared by this process's users of the directory). */
export const acquire = (dataDir: string) => {
  const dir = resolve(dataDir)
  return Effect.acquireRelease(
    Effect.suspend(() => {
      const users = held.get(dir) ?? 0
      if (users > 0) return Effect.sync(() => void held.set(dir, users + 1))
      return Effect.try({
        try: () => take(dir),
        catch: (cause) =>
          cause instanceof DataDirError
            ? cause
            : new DataDirError({ message: `DATA_DIR ${dir}: cannot take the lock: ${String(cause)}`, cause })
      }).pipe(
        Effect.tap(({ takenOver }) =>
          takenOver === undefined
            ? Effect.void
            : Effect.logWarning(`DATA_DIR ${dir}: took over the lock of process ${takenOver.pid}, which is gone`)
        ),
        Effect.flatMap(() => Effect.sync(() => void held.set(dir, 1)))
      )
    }),
    () =>
      Effect.sync(() => {
        const users = (held.get(dir) ?? 1) - 1
        if (users > 0) held.set(dir, users)
        else {
          held.delete(dir)
          release(dir)
        }
      })
  ).pipe(Effect.asVoid)
}
