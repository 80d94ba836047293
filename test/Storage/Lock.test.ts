import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Logger } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as Lock from "../../src/Storage/Lock.js"

// DATA_DIR's lock: a live holder (another process) is refused with the directory and its pid; a dead holder's lock
// is taken over with a warning; the lock goes when its last user in this process is done.

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "lock-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A process that stays alive until killed. */
const live = async () => {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
  children.push(child)
  await new Promise((r) => child.once("spawn", r))
  return child.pid as number
}

/** The pid of a process that has exited. */
const dead = async () => {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
  await new Promise((r) => child.once("exit", r))
  return child.pid as number
}

const startTime = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
}

/** Runs `use` holding the lock; the warnings logged meanwhile. */
const holding = async (dir: string, use: Effect.Effect<unknown, unknown> = Effect.void) => {
  const warnings: Array<string> = []
  const logger = Logger.make(({ message }) => warnings.push(String(message)))
  const exit = await Effect.runPromiseExit(
    Effect.scoped(Effect.zipRight(Lock.acquire(dir), use)).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  )
  return { exit, warnings }
}

describe("DATA_DIR lock", () => {
  it("is refused while another live process holds it, naming the directory and the pid", async () => {
    const dir = fresh()
    const pid = await live()
    writeFileSync(join(dir, "lock"), `${pid} ${startTime(pid)}\n`)
    const { exit } = await holding(dir)
    expect(Exit.isFailure(exit)).toBe(true)
    const message = Exit.isFailure(exit) ? String(exit.cause) : ""
    expect(message).toContain(`DATA_DIR ${dir} is in use by process ${pid}`)
    expect(readFileSync(join(dir, "lock"), "utf8"), "the holder's lock is left alone").toBe(
      `${pid} ${startTime(pid)}\n`
    )
  })

  it("takes over the lock of a dead process, with a warning, and removes it when done", async () => {
    const dir = fresh()
    const pid = await dead()
    writeFileSync(join(dir, "lock"), `${pid} 12345\n`)
    let during = ""
    const { exit, warnings } = await holding(
      dir,
      Effect.sync(() => {
        during = readFileSync(join(dir, "lock"), "utf8")
      })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(warnings.join("\n")).toContain(`took over the lock of process ${pid}, which is gone`)
    expect(during).toBe(`${process.pid} ${startTime(process.pid)}\n`)
    expect(existsSync(join(dir, "lock"))).toBe(false)
  })

  it("takes over a lock whose pid lives on in another process (another start time)", async () => {
    const dir = fresh()
    const pid = await live()
    writeFileSync(join(dir, "lock"), `${pid} 1\n`)
    const { exit, warnings } = await holding(dir)
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(warnings.join("\n")).toContain(`process ${pid}`)
  })

  it("is shared within the process and released by its last user", async () => {
    const dir = fresh()
    const lock = join(dir, "lock")
    const seen: Array<boolean> = []
    const inner = Effect.scoped(
      Effect.zipRight(
        Lock.acquire(dir),
        Effect.sync(() => seen.push(existsSync(lock)))
      )
    )
    const { exit } = await holding(
      dir,
      Effect.zipRight(
        inner,
        Effect.sync(() => seen.push(existsSync(lock)))
      )
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(seen, "held inside, still held after the inner user left").toEqual([true, true])
    expect(existsSync(lock)).toBe(false)
  })
})
