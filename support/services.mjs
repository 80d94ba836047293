// @ts-check
// The real services: their URLs, unique names, throw-away Postgres databases, Redis clients and a private Redis.
import { execFileSync } from "node:child_process"
import { Redis } from "ioredis"
import pg from "pg"
import { repoRoot } from "./paths.mjs"
import { freePort, startProcess } from "./processes.mjs"
import { log } from "./results.mjs"
import { eventually } from "./waiting.mjs"

/** @param {string} prefix */
export const unique = (prefix) => `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`

/**
 * KAFKA_BROKERS, DATABASE_URL (and REDIS_URL) from the environment, else from `scripts/services.sh up`.
 * @returns {Record<string, string | undefined>}
 */
export const servicesEnv = () => {
  const have = ["KAFKA_BROKERS", "DATABASE_URL"].every((k) => process.env[k])
  if (have)
    return {
      KAFKA_BROKERS: process.env["KAFKA_BROKERS"],
      REDIS_URL: process.env["REDIS_URL"],
      DATABASE_URL: process.env["DATABASE_URL"]
    }
  log("KAFKA_BROKERS / DATABASE_URL not set: running scripts/services.sh up")
  const out = execFileSync("bash", ["scripts/services.sh", "up"], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  })
  /** @type {Record<string, string | undefined>} */
  const env = {}
  for (const m of out.matchAll(/export (\w+)=["']?([^"'\n]+)["']?/g)) env[/** @type {string} */ (m[1])] = m[2]
  if (!env["KAFKA_BROKERS"] || !env["DATABASE_URL"])
    throw new Error(`scripts/services.sh up printed no environment:\n${out}`)
  return env
}

/**
 * One query on a connection of its own.
 * @template {Record<string, any>} [R=Record<string, any>]
 * @param {string} url
 * @param {string} text
 * @param {ReadonlyArray<unknown>} [params]
 * @returns {Promise<Array<R>>}
 */
export const query = async (url, text, params = []) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, [...params])).rows
  } finally {
    await client.end()
  }
}

/**
 * A throw-away database on the shared server, so a run never sees anyone else's rows; its URL.
 * @param {string} adminUrl
 * @param {string} name
 */
export const createDatabase = async (adminUrl, name) => {
  await query(adminUrl, `CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * @param {string} adminUrl
 * @param {string} name
 */
export const dropDatabase = async (adminUrl, name) => {
  try {
    await query(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } catch (e) {
    log(`could not drop database ${name}: ${/** @type {Error} */ (e).message}`)
  }
}

/**
 * A Redis client that does not log its connection errors (a test may stop Redis on purpose).
 * @param {string} url
 */
export const redis = (url) => {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  client.on("error", () => undefined)
  return client
}

/**
 * A private redis-server (same Debian binary as the shared one) on a free loopback port, in memory only.
 * The app's cache keys (latest:*) and live channel (crypto:updates) have fixed names, so on the shared Redis a
 * benchmark would see other runs' updates and others would see its 50 fake symbols.
 */
export const startPrivateRedis = async () => {
  const port = await freePort()
  const options = ["--save", "", "--appendonly", "no", "--daemonize", "no", "--maxclients", "20000"]
  const proc = startProcess("redis-server", ["--port", String(port), "--bind", "127.0.0.1", ...options], {
    name: "redis"
  })
  const url = `redis://127.0.0.1:${port}`
  await eventually(
    async () => {
      const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      c.on("error", () => undefined)
      try {
        await c.connect()
        return (await c.ping()) === "PONG" ? true : undefined
      } finally {
        c.disconnect()
      }
    },
    10_000,
    "the private redis-server"
  )
  return { url, port, proc, stop: () => proc.stop("SIGTERM", 5000) }
}

/** A clean-up list run in reverse order, whatever happened. */
export const cleanup = () => {
  /** @type {Array<{ name: string, task: () => unknown }>} */
  const tasks = []
  return {
    /** @param {string} name @param {() => unknown} task */
    add: (name, task) => tasks.push({ name, task }),
    run: async () => {
      for (const { name, task } of tasks.reverse()) {
        try {
          await task()
        } catch (e) {
          log(`cleanup ${name} failed: ${/** @type {Error} */ (e).message}`)
        }
      }
      tasks.length = 0
    }
  }
}
