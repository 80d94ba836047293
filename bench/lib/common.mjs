// Shared helpers for the benchmark harness: arguments, the machine and versions, the real services (fresh topics,
// fresh databases, a private Redis), starting the built CLI, /proc sampling, percentiles and result files.
// Plain ESM run by node: no build step and no dependency beyond what the app already has (kafkajs, ioredis, pg).
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import os from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import pg from "pg"

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const benchDir = join(repoRoot, "bench")
export const resultsDir = join(benchDir, "results")

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const now = () => Date.now()
/** Progress goes to stderr; stdout carries exactly one JSON line per scenario. */
export const log = (...parts) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${parts.join(" ")}\n`)

export const round = (x, digits = 1) => (typeof x === "number" && Number.isFinite(x) ? Number(x.toFixed(digits)) : x)
export const ratio = (a, b, digits = 3) => (b > 0 && Number.isFinite(a) ? Number((a / b).toFixed(digits)) : null)

// == arguments

/** `--key value`, `--key=value`, `--flag`; numbers parsed; comma lists kept as strings (split by the scenario). */
export const parseArgs = (argv) => {
  const positional = []
  const options = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith("--")) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf("=")
    const key = (eq > 0 ? a.slice(2, eq) : a.slice(2)).replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    let value
    if (eq > 0) value = a.slice(eq + 1)
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i]
    else value = true
    options[key] =
      typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value
  }
  return { positional, options }
}

export const listOf = (v) =>
  typeof v === "number"
    ? [v]
    : String(v)
        .split(",")
        .map((s) => Number(s.trim()))
        .filter(Number.isFinite)

// == machine and versions

const packageVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")).version
  } catch {
    return null
  }
}

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

export const versions = (extra = {}) => {
  const dirty = tryExec("git", ["status", "--porcelain", "--", "src"])
  return {
    node: process.version,
    app: packageVersion("../"),
    gitCommit: tryExec("git", ["rev-parse", "--short", "HEAD"]),
    srcModifiedFiles: dirty === null ? null : dirty.split("\n").filter((l) => l.trim() !== "").length,
    packages: Object.fromEntries(
      [
        "effect",
        "@effect/platform",
        "@effect/platform-node",
        "@effect/sql",
        "@effect/sql-pg",
        "kafkajs",
        "ioredis",
        "pg"
      ].map((n) => [n, packageVersion(n)])
    ),
    ...extra
  }
}

export const serviceVersions = async (env) => {
  const out = {}
  out.kafka = tryExec("bash", ["scripts/services.sh", "status", "kafka"])?.match(/Kafka [0-9.]+/)?.[0] ?? null
  try {
    out.postgres = (await query(env.DATABASE_URL, "SHOW server_version"))[0]?.server_version ?? null
  } catch {
    out.postgres = null
  }
  out.redis = tryExec("redis-server", ["--version"])?.match(/v=([0-9.]+)/)?.[1] ?? null
  return out
}

// == results

export const writeResult = (scenario, result) => {
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${scenario}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  log(`wrote ${file}`)
  return file
}

// == statistics

/** Nearest-rank percentile of an unsorted numeric array (copied and sorted). */
export const percentiles = (values, qs = [50, 90, 99, 99.9]) => {
  if (values.length === 0) return { count: 0 }
  const sorted = Float64Array.from(values).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))]
  const out = { count: sorted.length, min: sorted[0] }
  for (const q of qs) out[`p${String(q).replace(".", "_")}`] = at(q)
  out.max = sorted[sorted.length - 1]
  out.mean = round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 2)
  return out
}

/** Percentiles of an integer-millisecond histogram (index = ms, last slot = overflow). */
export const histogramPercentiles = (hist, count, max, sum, qs = [50, 90, 99, 99.9]) => {
  if (count === 0) return { count: 0 }
  const out = { count }
  let seen = 0
  let qi = 0
  const targets = qs.map((q) => Math.max(1, Math.ceil((q / 100) * count)))
  for (let i = 0; i < hist.length && qi < qs.length; i++) {
    seen += hist[i]
    while (qi < qs.length && seen >= targets[qi]) {
      out[`p${String(qs[qi]).replace(".", "_")}`] = i === hist.length - 1 ? max : i
      qi++
    }
  }
  out.max = max
  out.mean = round(sum / count, 2)
  return out
}

// == processes

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

/** utime+stime (seconds) and RSS (bytes) of a process, from /proc; null once it is gone. */
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

/** CPU use of `pid` over a window, as % of one core: start() … stop(). Survives the process exiting (last sample). */
export const cpuMeter = (pid) => {
  let first = null
  let last = null
  let peakRss = 0
  let t0 = 0
  let t1 = 0
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

/** Polls `probe` until it returns something other than undefined; fails after `timeoutMs`. */
export const eventually = async (probe, timeoutMs, what, intervalMs = 100) => {
  const deadline = Date.now() + timeoutMs
  let lastError
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (e) {
      lastError = e
    }
    await sleep(intervalMs)
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message ?? lastError}` : ""}`
  )
}

const started = new Set()
/** Kills every child this harness started (by its own pid), e.g. on Ctrl-C or a failed scenario. */
export const killStarted = (signal = "SIGKILL") => {
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
 * Starts a child process and keeps its output (the last 200 KB); `stop` sends a signal and waits for the exit.
 * `cpuProfileDir`: run node with --cpu-prof (written when the process exits normally, i.e. after SIGTERM).
 */
export const startProcess = (
  file,
  args,
  { env = {}, name = file, cwd = repoRoot, cpuProfileDir, stdin = "ignore" } = {}
) => {
  const nodeArgs =
    cpuProfileDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
  const isNode = file === process.execPath
  const child = spawn(file, isNode ? [...nodeArgs, ...args] : args, { cwd, env, stdio: [stdin, "pipe", "pipe"] })
  started.add(child)
  let output = ""
  const keep = (d) => {
    output += d.toString()
    if (output.length > 200_000) output = output.slice(-150_000)
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  child.stdin?.on("error", () => undefined) // EPIPE once it is gone
  const exited = new Promise((r) =>
    child.once("exit", (code, signal) => {
      started.delete(child)
      r({ code, signal })
    })
  )
  return {
    name,
    child,
    pid: child.pid,
    output: () => output,
    /** One JSON command line on the child's stdin (helpers started with stdin: "pipe"). */
    send: (message) => {
      if (child.exitCode === null && child.signalCode === null && child.stdin?.writable)
        child.stdin.write(`${JSON.stringify(message)}\n`)
    },
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async (signal = "SIGTERM", timeoutMs = 20_000) => {
      const t0 = Date.now()
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const result = await Promise.race([exited, sleep(timeoutMs).then(() => "timeout")])
      if (result === "timeout") {
        child.kill("SIGKILL")
        await exited
        return { code: null, signal: "SIGKILL", millis: Date.now() - t0, timedOut: true }
      }
      return { ...result, millis: Date.now() - t0 }
    }
  }
}

/** The built CLI: `node dist/main.js <command>` with only the given service URLs (the rest of the environment kept). */
export const startCli = (command, env, options = {}) => {
  if (!existsSync(join(repoRoot, "dist/main.js"))) throw new Error("dist/main.js is missing: run `npm run build` first")
  const base = { ...process.env }
  for (const k of ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL", "KAFKA_TOPIC", "KAFKA_GROUP_ID", "SOURCE", "PORT"])
    delete base[k]
  return startProcess(process.execPath, ["dist/main.js", command], {
    name: options.name ?? command,
    cpuProfileDir: options.cpuProfileDir,
    // warn: no access log line per request (HttpMiddleware.logger logs at info); `--log-level info` measures the default.
    env: { ...base, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn", ...env }
  })
}

/** A helper script under bench/lib, as its own node process. */
export const startNodeScript = (script, args, options = {}) =>
  startProcess(process.execPath, [join(benchDir, "lib", script), ...args], {
    name: options.name ?? script,
    env: { ...process.env, ...(options.env ?? {}) },
    cpuProfileDir: options.cpuProfileDir,
    stdin: options.stdin ?? "ignore"
  })

/** Parses JSON lines a helper prints on stdout, calling `onLine` for each. */
export const jsonLines = (proc, onLine) => {
  let buf = ""
  proc.child.stdout.on("data", (d) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (line.startsWith("{")) {
        try {
          onLine(JSON.parse(line))
        } catch {
          // not ours
        }
      }
    }
  })
}

export const httpOk = async (url) => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
    return res.ok ? true : undefined
  } catch {
    return undefined
  }
}

// == services

export const unique = (prefix) => `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`

/** KAFKA_BROKERS, DATABASE_URL (and REDIS_URL) from the environment, else from `scripts/services.sh up`. */
export const servicesEnv = () => {
  const have = ["KAFKA_BROKERS", "DATABASE_URL"].every((k) => process.env[k])
  if (have)
    return {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      REDIS_URL: process.env.REDIS_URL,
      DATABASE_URL: process.env.DATABASE_URL
    }
  log("KAFKA_BROKERS / DATABASE_URL not set: running scripts/services.sh up")
  const out = execFileSync("bash", ["scripts/services.sh", "up"], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  })
  const env = {}
  for (const m of out.matchAll(/export (\w+)=["']?([^"'\n]+)["']?/g)) env[m[1]] = m[2]
  if (!env.KAFKA_BROKERS || !env.DATABASE_URL) throw new Error(`scripts/services.sh up printed no environment:\n${out}`)
  return env
}

export const query = async (url, text, params = []) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, params)).rows
  } finally {
    await client.end()
  }
}

/** A throw-away database on the shared server, so a run never sees anyone else's rows. */
export const createDatabase = async (adminUrl, name) => {
  await query(adminUrl, `CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export const dropDatabase = async (adminUrl, name) => {
  try {
    await query(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } catch (e) {
    log(`could not drop database ${name}: ${e.message}`)
  }
}

export const kafka = (brokers, clientId = "bench") =>
  new Kafka({ clientId, brokers: brokers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 8 } })

export const createTopic = async (brokers, topic, partitions = 3) => {
  const admin = kafka(brokers).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

export const deleteTopics = async (brokers, topics) => {
  const admin = kafka(brokers).admin()
  try {
    await admin.connect()
    const existing = new Set(await admin.listTopics())
    const gone = topics.filter((t) => existing.has(t))
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 10_000 })
  } catch (e) {
    log(`could not delete topics ${topics.join(",")}: ${e.message}`)
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

/** Offsets one past the last record, per partition. */
export const endOffsets = async (admin, topic) =>
  new Map((await admin.fetchTopicOffsets(topic)).map((r) => [r.partition, Number(r.high)]))

export const producer = async (brokers) => {
  const p = kafka(brokers, "bench-publisher").producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false
  })
  await p.connect()
  return p
}

/**
 * A private redis-server (same Debian binary as the shared one) on a free loopback port, in memory only.
 * The app's cache keys (latest:*) and live channel (crypto:updates) have fixed names, so on the shared Redis a
 * benchmark would see other runs' updates and others would see its 50 fake symbols.
 */
export const startPrivateRedis = async () => {
  const port = await freePort()
  const proc = startProcess(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--maxclients",
      "20000"
    ],
    { name: "redis" }
  )
  const { Redis } = await import("ioredis")
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
  const tasks = []
  return {
    add: (name, task) => tasks.push({ name, task }),
    run: async () => {
      for (const { name, task } of tasks.reverse()) {
        try {
          await task()
        } catch (e) {
          log(`cleanup ${name} failed: ${e.message}`)
        }
      }
      tasks.length = 0
    }
  }
}

// == ticks

/** 50 made-up coins with valid symbols (B00…B49) and coin ids (bench-00…). */
export const benchSymbols = (n, prefix = "B") =>
  Array.from({ length: n }, (_, i) => ({
    symbol: `${prefix}${String(i).padStart(2, "0")}`,
    coinId: `bench-${prefix.toLowerCase()}-${String(i).padStart(2, "0")}`,
    price: 10 + i * 37.5
  }))

/** A tick as the app's TickJson encodes it. */
export const tickJson = (coin, price, eventTime, ingestTime, source = "simulator") =>
  `{"symbol":"${coin.symbol}","coinId":"${coin.coinId}","price":${price},` +
  `"volume":${round(0.5 + Math.random() * 3, 4)},"eventTime":${eventTime},"source":"${source}","ingestTime":${ingestTime}}`

/**
 * Publishes ticks at `rate` per second over `coins` for `seconds`, in sends every `everyMs`; event times strictly
 * increase per symbol (the dedupe key is symbol + source + event time); ingestTime = eventTime = the send moment.
 * `onTick(symbol, eventTime)` for bookkeeping. Returns what was sent and acknowledged.
 */
export const publishAtRate = async (prod, topic, coins, rate, seconds, { everyMs = 5, onTick, stopAt } = {}) => {
  const last = new Map()
  const prices = new Map(coins.map((c) => [c.symbol, c.price]))
  let sent = 0
  let acked = 0
  let failed = 0
  let lateSends = 0
  let next = 0
  const inflight = new Set()
  const t0 = performance.now()
  const total = Math.round(rate * seconds)
  while (sent < total) {
    if (stopAt !== undefined && Date.now() >= stopAt) break
    const elapsed = performance.now() - t0
    const due = Math.min(total, Math.floor((elapsed / 1000) * rate)) - sent
    if (due > 0) {
      const nowMs = Date.now()
      const messages = []
      for (let i = 0; i < due; i++) {
        const coin = coins[next++ % coins.length]
        const eventTime = Math.max(nowMs, (last.get(coin.symbol) ?? 0) + 1)
        last.set(coin.symbol, eventTime)
        const price = round(prices.get(coin.symbol) * Math.exp((Math.random() - 0.5) * 0.002), 6)
        prices.set(coin.symbol, price)
        messages.push({ key: coin.symbol, value: tickJson(coin, price, eventTime, nowMs) })
        onTick?.(coin.symbol, eventTime, nowMs)
      }
      sent += due
      const p = prod.send({ topic, acks: -1, messages }).then(
        () => (acked += messages.length),
        () => (failed += messages.length)
      )
      inflight.add(p)
      p.finally(() => inflight.delete(p))
      if (inflight.size > 200) {
        lateSends++
        await Promise.race(inflight)
      }
    }
    await sleep(everyMs)
  }
  await Promise.allSettled([...inflight])
  const seconds_ = (performance.now() - t0) / 1000
  return {
    sent,
    acked,
    failed,
    seconds: round(seconds_, 2),
    achievedRate: round(sent / seconds_, 0),
    backpressureWaits: lateSends
  }
}

/** Collects a helper's JSON lines; `next(pred, ms)` resolves with the first (past or future) line matching `pred`. */
export const lineReader = (proc) => {
  const lines = []
  const waiters = []
  jsonLines(proc, (m) => {
    lines.push(m)
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  return {
    lines,
    next: (pred, ms, what = "a line") => {
      const seen = lines.find(pred)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolveLine, reject) => {
        const w = { pred, resolve: resolveLine }
        waiters.push(w)
        setTimeout(() => {
          const i = waiters.indexOf(w)
          if (i >= 0) {
            waiters.splice(i, 1)
            reject(new Error(`${proc.name}: no ${what} within ${ms} ms:\n${proc.output().slice(-2000)}`))
          }
        }, ms)
      })
    },
    /** The next line matching `pred` from now on (not one already seen). */
    after: (pred, ms, what = "a line") => {
      const from = lines.length
      return new Promise((resolveLine, reject) => {
        const w = { pred: (m) => lines.indexOf(m) >= from && pred(m), resolve: resolveLine }
        waiters.push(w)
        setTimeout(() => {
          const i = waiters.indexOf(w)
          if (i >= 0) {
            waiters.splice(i, 1)
            reject(new Error(`${proc.name}: no ${what} within ${ms} ms:\n${proc.output().slice(-2000)}`))
          }
        }, ms)
      })
    }
  }
}

/** Waits for GET `url` to answer 2xx; fails at once, with the process's output, if `proc` exits meanwhile. */
export const waitHealthy = (proc, url, timeoutMs = 120_000) =>
  eventually(
    async () => {
      if (!proc.alive()) throw new Error(`${proc.name} exited before answering ${url}:\n${proc.output().slice(-3000)}`)
      return httpOk(url)
    },
    timeoutMs,
    `${url} (${proc.name})`,
    200
  ).catch((e) => {
    throw new Error(`${e.message}\n--- ${proc.name} output ---\n${proc.output().slice(-3000)}`)
  })
