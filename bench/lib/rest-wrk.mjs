// wrk (Debian's package: C, one thread, far less CPU per request than a node load generator on a 2-core machine):
// one timed run, parsed from its --latency report; and the CPU-seconds of a server's whole process tree over it.
import { execFileSync, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { cpuMeter, procStat } from "../../support/processes.mjs"
import { round } from "../../support/statistics.mjs"

export const wrkVersion = () => {
  try {
    return execFileSync("wrk", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).match(/wrk [^\s]+/)?.[0]
  } catch (e) {
    // wrk -v exits 1 after printing its version.
    const text = String(e.stdout ?? "") + String(e.stderr ?? "")
    if (/wrk/.test(text)) return text.match(/wrk [^\s]+/)?.[0]
    throw new Error("wrk is not installed: apt-get install -y wrk")
  }
}

const toMs = (v, unit) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN)

export const parseWrk = (text) => {
  const lat = {}
  for (const m of text.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm))
    lat[`p${m[1]}`] = round(toMs(m[2], m[3]), 2)
  const max = text.match(/Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/)
  const errors = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
  return {
    requests: Number(text.match(/(\d+) requests in/)?.[1] ?? NaN),
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    latencyMs: { ...lat, max: max ? round(toMs(max[1], max[2]), 2) : null },
    non2xx: Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0
  }
}

export const wrk = (url, seconds, connections) =>
  new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", url], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    const meter = cpuMeter(child.pid)
    meter.start()
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("exit", (code) => {
      const usage = meter.stop()
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${out}`))
      else resolve({ ...parseWrk(out), wrkCpuPercent: usage.cpuPercent })
    })
  })

/** `pid` and every process under it (uvicorn's workers under its supervisor), from /proc. */
const tree = (pid) => {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${task}/children`, "utf8").trim()
        if (children !== "") out.push(...children.split(" ").map(Number))
      }
    } catch {
      // gone
    }
  }
  return out
}

/** utime+stime of the tree, per process (a process that exits mid-run keeps its last sample). */
const treeCpu = (pid) => new Map(tree(pid).map((p) => [p, procStat(p)?.cpu ?? 0]))

/** CPU-seconds and RSS of a server's process tree over a window: start() … stop(). */
export const treeMeter = (pid) => {
  let before = new Map()
  let t0 = 0
  return {
    start() {
      before = treeCpu(pid)
      t0 = performance.now()
    },
    stop() {
      const after = treeCpu(pid)
      const seconds = (performance.now() - t0) / 1000
      let cpu = 0
      for (const [p, c] of after) cpu += c - (before.get(p) ?? 0)
      const rss = [...after.keys()].reduce((a, p) => a + (procStat(p)?.rss ?? 0), 0)
      return {
        cpuSeconds: round(cpu, 2),
        cpuPercent: round((100 * cpu) / seconds, 1),
        processes: after.size,
        rssMiB: round(rss / 2 ** 20, 1)
      }
    }
  }
}
