// @ts-check
// Child processes: free ports, starting (and killing) them, the built CLI, and /proc sampling of their CPU and memory.
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join, resolve } from "node:path"
import { benchDir, repoRoot } from "./paths.mjs"
import { round } from "./statistics.mjs"
import { sleep } from "./waiting.mjs"

/** @returns {Promise<number>} */
export const freePort = () =>
  new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address()
      srv.close(() =>
        typeof address === "object" && address !== null ? resolvePort(address.port) : reject(new Error("no port"))
      )
    })
  })

/**
 * utime+stime (seconds) and RSS (bytes) of a process, from /proc; null once it is gone.
 * @param {number | undefined} pid
 */
export const procStat = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpu = (Number(fields[11]) + Number(fields[12])) / 100 // CLK_TCK = 100 on Linux
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const rssKb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0)
    return { cpu, rss: rssKb * 1024 }
  } catch {
    return null
  }
}

/**
 * CPU use of `pid` over a window, as % of one core: start() … stop(). Survives the process exiting (last sample).
 * @param {number | undefined} pid
 */
export const cpuMeter = (pid) => {
  /** @type {{ cpu: number, rss: number } | null} */
  let first = null
  /** @type {{ cpu: number, rss: number } | null} */
  let last = null
  let peakRss = 0
  let t0 = 0
  let t1 = 0
  /** @type {NodeJS.Timeout | undefined} */
  let timer
  const sample = () => {
    const s = procStat(pid)
    if (s !== null && s.rss > 0) {
      last = s
      peakRss = Math.max(peakRss, s.rss)
      t1 = performance.now()
    }
  }
  return {
    start() {
      first = procStat(pid)
      last = first
      t0 = performance.now()
      t1 = t0
      timer = setInterval(sample, 250)
      timer.unref()
    },
    stop() {
      clearInterval(timer)
      sample()
      if (first === null || last === null || t1 <= t0) return { cpuPercent: null, rssMiB: null }
      return {
        cpuPercent: round((100 * (last.cpu - first.cpu)) / ((t1 - t0) / 1000), 1),
        rssMiB: round(last.rss / 2 ** 20, 1),
        peakRssMiB: round(peakRss / 2 ** 20, 1)
      }
    }
  }
}

/** @type {Set<import("node:child_process").ChildProcess>} */
const started = new Set()
/** Kills every child this harness started (by its own pid), e.g. on Ctrl-C or a failed scenario. */
export const killStarted = (signal = /** @type {NodeJS.Signals} */ ("SIGKILL")) => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal)
      } catch {
        // gone already
      }
    }
  }
}

/**
 * @typedef {object} StartOptions
 * @property {Record<string, string | undefined>} [env] the child's whole environment
 * @property {string} [name]
 * @property {string} [cwd]
 * @property {string} [cpuProfileDir] run node with --cpu-prof (written when the process exits normally)
 * @property {"ignore" | "pipe"} [stdin]
 */
/**
 * @typedef {object} Stopped
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {number} millis
 * @property {boolean} [timedOut] the signal did not end it within the timeout, SIGKILL did
 */
/**
 * @typedef {ReturnType<typeof startProcess>} Proc
 */

/**
 * Starts a child process and keeps its output (the last 200 KB); `stop` sends a signal and waits for the exit.
 * @param {string} file
 * @param {ReadonlyArray<string>} args
 * @param {StartOptions} [options]
 */
export const startProcess = (file, args, { env = {}, name = file, cwd = repoRoot, cpuProfileDir, stdin } = {}) => {
  const nodeArgs =
    cpuProfileDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
  const isNode = file === process.execPath
  const child = spawn(file, isNode ? [...nodeArgs, ...args] : [...args], {
    cwd,
    env,
    stdio: [stdin ?? "ignore", "pipe", "pipe"]
  })
  started.add(child)
  let output = ""
  /** @param {Buffer} d */
  const keep = (d) => {
    output += d.toString()
    if (output.length > 200_000) output = output.slice(-150_000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  child.stdin?.on("error", () => undefined) // EPIPE once it is gone
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((r) =>
    child.once("exit", (code, signal) => {
      started.delete(child)
      r({ code, signal })
    })
  )
  const alive = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    child,
    pid: child.pid,
    output: () => output,
    /** @param {unknown} message one JSON command line on the child's stdin (helpers started with stdin: "pipe") */
    send: (message) => {
      if (alive() && child.stdin?.writable) child.stdin.write(`${JSON.stringify(message)}\n`)
    },
    exited,
    alive,
    /** @returns {Promise<Stopped>} */
    stop: async (signal = /** @type {NodeJS.Signals} */ ("SIGTERM"), timeoutMs = 20_000) => {
      const t0 = Date.now()
      if (alive()) child.kill(signal)
      const result = await Promise.race([exited, sleep(timeoutMs).then(() => /** @type {const} */ ("timeout"))])
      if (result === "timeout") {
        child.kill("SIGKILL")
        await exited
        return { code: null, signal: "SIGKILL", millis: Date.now() - t0, timedOut: true }
      }
      return { ...result, millis: Date.now() - t0 }
    }
  }
}

/**
 * The built CLI: `node dist/main.js <args>` with only the given service URLs (the rest of the environment kept).
 * @param {string | ReadonlyArray<string>} args a command, or a command and its options
 * @param {Record<string, string | undefined>} env
 * @param {{ name?: string, cpuProfileDir?: string, dist?: string }} [options] `dist`: another build's dist/ (a
 *   benchmark's --compare-dist), run instead of this tree's
 */
export const startCli = (args, env, options = {}) => {
  const main = resolve(repoRoot, options.dist ?? "dist", "main.js")
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`)
  const base = { ...process.env }
  for (const k of ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL", "KAFKA_TOPIC", "KAFKA_GROUP_ID", "SOURCE", "PORT"])
    delete base[k]
  const argv = typeof args === "string" ? [args] : args
  return startProcess(process.execPath, [main, ...argv], {
    name: options.name ?? argv.join(" "),
    ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }),
    // warn: no access log line per request (HttpMiddleware.logger logs at info); `--log-level info` measures the default.
    // DATA_DIR=memory: each run starts afresh and runs never share (or lock) the working tree's ./data. HISTORY=0: a
    // simulator starts live, without its day of history first.
    env: { ...base, LOG_LEVEL: process.env["BENCH_LOG_LEVEL"] ?? "warn", DATA_DIR: "memory", HISTORY: "0", ...env }
  })
}

/**
 * A helper script under bench/lib, as its own node process.
 * @param {string} script
 * @param {ReadonlyArray<string>} args
 * @param {{ name?: string, env?: Record<string, string>, cpuProfileDir?: string, stdin?: "ignore" | "pipe" }} [options]
 */
export const startNodeScript = (script, args, options = {}) =>
  startProcess(process.execPath, [join(benchDir, "lib", script), ...args], {
    name: options.name ?? script,
    env: { ...process.env, ...(options.env ?? {}) },
    ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }),
    stdin: options.stdin ?? "ignore"
  })
