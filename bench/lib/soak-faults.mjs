// The soak's faults: kill, stop (a graceful restart) and hang (SIGSTOP for 20 s) of Kafka, Redis, Postgres and the
// processor. They act only on the soak's own services (its SERVICES_DIR, its owner token: scripts/services.sh checks).
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, realpathSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "../../support/paths.mjs"
import { log } from "../../support/results.mjs"
import { sleep } from "../../support/waiting.mjs"

const sh = (...args) =>
  execFileSync("bash", ["scripts/services.sh", ...args], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] })
const read = (file) => {
  try {
    return Number(readFileSync(file, "utf8").split("\n")[0].trim()) || undefined
  } catch {
    return undefined
  }
}
const servicePid = (svc) => {
  const dir = process.env.SERVICES_DIR
  if (svc === "kafka") return read(join(dir, "kafka", "kafka.pid"))
  if (svc === "redis") return read(join(dir, "redis", "redis.pid"))
  return read(join(realpathSync(join(dir, "postgres")), "data", "postmaster.pid"))
}
const parentOf = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}
/** A process and its children (Postgres's backends; a JVM is one process). */
const tree = (pid) => [
  pid,
  ...readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && parentOf(p) === pid)
    .map(Number)
]
const signal = (pids, sig) => {
  for (const p of pids) {
    try {
      process.kill(p, sig)
    } catch {
      // gone meanwhile
    }
  }
}

const hangFor = async (pids, seconds) => {
  signal(pids, "SIGSTOP")
  await sleep(seconds * 1000)
  signal(pids, "SIGCONT")
}

/** Every fault kind, each `run(ctx)` returning once the faulty part is back. ctx.processor: { kill, hang }. */
export const faultKinds = (hangSeconds = 20) => {
  const kinds = {}
  for (const svc of ["kafka", "redis", "postgres"]) {
    kinds[`kill ${svc}`] = async () => {
      sh("kill", svc)
      await sleep(3000)
      sh("start", svc)
    }
    kinds[`stop ${svc}`] = async () => {
      sh("stop", svc)
      await sleep(3000)
      sh("start", svc)
    }
    kinds[`hang ${svc}`] = async () => {
      const pid = servicePid(svc)
      if (pid === undefined) throw new Error(`${svc}: no pid to hang`)
      await hangFor(tree(pid), hangSeconds)
    }
  }
  kinds["kill processor"] = (ctx) => ctx.processor.kill()
  kinds["stop processor"] = (ctx) => ctx.processor.restart()
  kinds["hang processor"] = (ctx) => hangFor([ctx.processor.pid()], hangSeconds)
  return kinds
}

export const allServicesUp = () => {
  log("soak: making sure every service is up")
  sh("start", "kafka", "redis", "postgres")
}
