// @ts-check
// The machine and the versions a result was measured with (Node, the app, its packages, the services).
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import os from "node:os"
import { join } from "node:path"
import { repoRoot } from "./paths.mjs"
import { query } from "./services.mjs"
import { round } from "./statistics.mjs"

/** @param {string} name */
const packageVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")).version
  } catch {
    return null
  }
}

/**
 * @param {string} file
 * @param {ReadonlyArray<string>} args
 */
const tryExec = (file, args) => {
  try {
    return execFileSync(file, args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return null
  }
}

export const machine = () => {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((x) => round(x, 2)),
    shared: true,
    note: "2-core machine shared with other engineers' tests and builds while these ran: compare the ratios, not the absolute figures"
  }
}

const packages = ["effect", "@effect/platform", "@effect/platform-node", "@effect/sql", "@effect/sql-pg", "kafkajs"]

export const versions = (extra = {}) => {
  const dirty = tryExec("git", ["status", "--porcelain", "--", "src"])
  // The whole tree, less the results a run writes itself: a figure from a dirty tree is not the commit's.
  const treeDirty = tryExec("git", ["status", "--porcelain", "--", ".", ":!bench/results"])
  return {
    node: process.version,
    app: packageVersion("../"),
    gitCommit: tryExec("git", ["rev-parse", "--short", "HEAD"]),
    srcModifiedFiles: dirty === null ? null : dirty.split("\n").filter((l) => l.trim() !== "").length,
    treeModifiedFiles: treeDirty === null ? null : treeDirty.split("\n").filter((l) => l.trim() !== "").length,
    treeDirty: treeDirty === null ? null : treeDirty.trim() !== "",
    packages: Object.fromEntries([...packages, "ioredis", "pg"].map((n) => [n, packageVersion(n)])),
    ...extra
  }
}

/** @param {Record<string, string | undefined>} env */
export const serviceVersions = async (env) => {
  /** @type {Record<string, string | null>} */
  const out = {}
  out["kafka"] = tryExec("bash", ["scripts/services.sh", "status", "kafka"])?.match(/Kafka [0-9.]+/)?.[0] ?? null
  try {
    out["postgres"] = (await query(env["DATABASE_URL"] ?? "", "SHOW server_version"))[0]?.["server_version"] ?? null
    // Durability as the run had it: figures are called durable only with fsync on (bench/run.mjs --fsync).
    for (const setting of ["fsync", "full_page_writes", "synchronous_commit"])
      out[`postgres_${setting}`] = (await query(env["DATABASE_URL"] ?? "", `SHOW ${setting}`))[0]?.[setting] ?? null
  } catch {
    out["postgres"] = null
  }
  out["redis"] = tryExec("redis-server", ["--version"])?.match(/v=([0-9.]+)/)?.[1] ?? null
  return out
}
