// CPU of every process a throughput contender keeps busy, read from /proc: the contender itself, the Postgres cluster
// (the postmaster and all its children: backends, WAL writer, checkpointer…), Kafka's JVM and the Redis server.
// Sampled at the start and end of a window; the difference is the CPU-seconds spent in it.
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

const clockTicks = 100 // CLK_TCK on Linux

/** utime, stime, cutime, cstime (seconds) of a process; null once it is gone. */
const times = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return {
      self: (Number(f[11]) + Number(f[12])) / clockTicks,
      children: (Number(f[13]) + Number(f[14])) / clockTicks
    }
  } catch {
    return null
  }
}

/** CPU-seconds of one process so far (its threads included). */
export const processCpu = (pid) => times(pid)?.self ?? null

const childrenOf = (pid) => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
    )
  } catch {
    return []
  }
}

/**
 * CPU-seconds of a process tree so far: its own, its live children's, and (through cutime/cstime) those of the
 * children that exited and were reaped meanwhile, so a backend that ends inside the window is still counted.
 */
export const treeCpu = (pid) => {
  const root = times(pid)
  if (root === null) return null
  let cpu = root.self + root.children
  for (const child of childrenOf(pid)) {
    const t = times(child)
    if (t !== null) cpu += t.self + t.children
  }
  return cpu
}

/** Seconds the threads of a process spent runnable but waiting for a CPU (/proc/<pid>/task/<tid>/schedstat). */
const runQueueWait = (pid) => {
  try {
    let ns = 0
    for (const task of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[1] ?? 0)
    return ns / 1e9
  } catch {
    return null
  }
}

const rssMiB = (pid) => {
  try {
    return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** The pid holding a TCP socket listening on `port` (null when none of ours is), from /proc/net/tcp{,6} and fds. */
export const listenerPid = (port) => {
  const inodes = new Set()
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = ""
    try {
      text = readFileSync(file, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== "0A") continue // 0A: LISTEN
      if (Number.parseInt(f[1].split(":")[1], 16) === port) inodes.add(`socket:[${f[9]}]`)
    }
  }
  if (inodes.size === 0) return null
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let fds
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid)
      } catch {
        // closed meanwhile
      }
    }
  }
  return null
}

const portOf = (url, fallback) => Number(new URL(url).port || fallback)

/** The services' pids, found once per run from the ports they listen on. */
export const servicePids = (env, redisPid) => ({
  postgres: listenerPid(portOf(env.DATABASE_URL, 5432)),
  kafka: listenerPid(Number(env.KAFKA_BROKERS.split(",")[0].split(":").at(-1))),
  redis: redisPid ?? null
})

/**
 * A meter over `pids` ({ name: pid }; postgres counted as its whole tree): `mark()` samples all of them, `between(a,
 * b)` gives the CPU-seconds each spent between two marks, `waitedBetween(a, b)` the run-queue wait of the contender
 * (the first of `pids`).
 */
export const meter = (pids) => {
  const contender = Object.values(pids)[0]
  const mark = () => {
    const cpu = {}
    for (const [name, pid] of Object.entries(pids))
      cpu[name] = pid === null || pid === undefined ? null : name === "postgres" ? treeCpu(pid) : processCpu(pid)
    return { t: Date.now(), cpu, waited: runQueueWait(contender) }
  }
  /** Seconds the contender (the first of `pids`) waited for a CPU between two marks: how starved it was. */
  const waitedBetween = (a, b) =>
    a.waited === null || b.waited === null ? null : Number((b.waited - a.waited).toFixed(2))
  const between = (a, b) =>
    Object.fromEntries(
      Object.keys(pids).map((name) => {
        const x = a.cpu[name]
        const y = b.cpu[name]
        return [name, x === null || y === null ? null : Number((y - x).toFixed(2))]
      })
    )
  return { mark, between, waitedBetween }
}

/** Peak RSS (MiB) of `pid`, sampled every 250 ms until stop(). */
export const rssWatch = (pid) => {
  let peak = rssMiB(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid))
  }, 250)
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      peak = Math.max(peak, rssMiB(pid))
      return Number(peak.toFixed(1))
    }
  }
}
