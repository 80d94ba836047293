#!/usr/bin/env node
// Benchmarks on the real services (see docs/BENCHMARKS.md). Measures and records; asserts no time.
//
//   node bench/run.mjs [all | throughput latency fanout rest recovery ...] [--size tiny|small|full] [--key value ...]
//
// Each scenario prints one JSON line on stdout and writes bench/results/<scenario>.json with the machine, the
// versions, the parameters, the figures, its bare baseline from the same run and the ratio. Progress goes to stderr.
// Exit code 1 when a scenario fails or one of its correctness checks does (lost or doubled ticks, refused
// connections, errors under load): that is what a CI smoke run at --size tiny checks. Targets never fail a run.
// Needs `npm run build` (dist/) and the services (`eval "$(scripts/services.sh up)"`; started when the variables
// are missing). Every run uses a fresh topic, a fresh database and a private redis-server, removed afterwards
// (`--keep` keeps them).
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "../support/args.mjs"
import { machine as describeMachine, serviceVersions, versions } from "../support/machine.mjs"
import { resultsDir } from "../support/paths.mjs"
import { killStarted } from "../support/processes.mjs"
import { log, writeResult } from "../support/results.mjs"
import { cleanup, query, servicesEnv, startPrivateRedis } from "../support/services.mjs"

const scenarios = ["throughput", "latency", "fanout", "rest", "recovery", "venues", "idle"]

/** Sizes: tiny = CI smoke check, small = what a shared 2-core machine takes (docs/BENCHMARKS.md), full = issue #9's targets. */
const presets = {
  tiny: {
    throughput: { ticks: 5_000 },
    latency: { rates: "200,1000", seconds: 3, warmup: 1, reps: 3 },
    fanout: { clients: 200, rateStart: 500, rateMax: 4_000, rateFactor: 8, seconds: 2, warmup: 1, settle: 1, reps: 3 },
    rest: { seconds: 3, connections: 8, rounds: 1, warmup: 1 },
    recovery: { rate: 1_000, seconds: 20, killAt: 6, reps: 1 },
    venues: { rate: 2_000, seconds: 5, latencyRate: 500, latencySeconds: 5 },
    idle: { seconds: 10, variants: "embedded" }
  },
  small: {
    throughput: { ticks: 20_000 },
    latency: { rates: "1000,10000", seconds: 15, warmup: 3, reps: 3 },
    fanout: { clients: 1_000, rateStart: 250, rateMax: 32_000, seconds: 5, warmup: 1, settle: 3, reps: 3 },
    rest: { seconds: 8, connections: 32, rounds: 3 },
    recovery: { rate: 5_000, seconds: 45, killAt: 15, reps: 3 },
    venues: { rate: 5_000, seconds: 30, latencyRate: 500, latencySeconds: 20 },
    idle: { seconds: 30 }
  },
  // Sized so one run of every scenario, peers included, fits in about two hours on the 2-core machine; the
  // windows are long enough that the repetitions' spread, not the window, bounds each figure.
  full: {
    throughput: { ticks: 1_000_000 },
    latency: { rates: "1000,10000", seconds: 30, warmup: 5, reps: 3 },
    fanout: { clients: 10_000, rateStart: 50, rateMax: 6_400, seconds: 10, warmup: 2, settle: 5, reps: 3 },
    rest: { seconds: 15, connections: 64, rounds: 3 },
    recovery: { rate: 5_000, seconds: 90, killAt: 30, reps: 3 },
    venues: { rate: 5_000, seconds: 120, latencyRate: 1_000, latencySeconds: 60 },
    idle: { seconds: 240 }
  }
}

const usage = `usage: node bench/run.mjs [all|${scenarios.join("|")} ...] [--size tiny|small|full] [options]

  throughput  --ticks N --symbols 50 --spacing-ms 1000 --seed producer|kafkajs [--batch-size N --checkpoint-interval "5 seconds"]
  latency     --rates 1000,10000 --seconds S --warmup S --symbols 50 --reps 3 --app-env KEY=VAL[,KEY=VAL]
  fanout      --clients K --client-processes 2 --rates a,b,… | --rate-start R --rate-max R --rate-factor 2
              --seconds S --warmup S --settle S --reps 3 --behind-ms 1000 --symbols 50
  rest        --seconds S --connections C --candles-connections C --rounds R --warmup S [--fastapi false]
              [--endpoints latest,candles] [--before-dist DIR: another build's dist/, as api-before]
  recovery    --rate R --seconds S --kill-at S --reps N --seed N --checkpoint-interval 5 (s; kills at --kill-at + U(0, it))
              --symbols 50 --restart-delay 0 --drain-timeout 600
  venues      --rate 5000 --seconds S --latency-rate 500 --latency-seconds S (0: no latency phase)
              --markets m1,m2,… (default 30: 10 per venue) --drain-timeout 300
  idle        --seconds S --variants embedded,restart,no-history,services --load-timeout 300
  all         --profile (node --cpu-prof on the app's process, written to bench/results/profiles/)
              --redis private|shared (default private: a redis-server of our own on a free port)
              --keep (keep topics and databases)
              --tag NAME (write bench/results/<scenario>-NAME.json instead, for a variant)
              --log-level warn|info|debug (the LOG_LEVEL of every app process; default warn)
              --fsync on|off (default on: Postgres's fsync and full_page_writes for the run, reset afterwards;
                the test services run with them off, and a figure is called durable only with them on)
              --peers (run the peers and ceilings of bench/peers/ beside ours: Flink, a minimal exactly-once
                sink, a COPY ceiling, FastAPI; see docs/BENCHMARKS.md)`

const { positional, options } = parseArgs(process.argv.slice(2))
if (options.help || options.h) {
  process.stderr.write(`${usage}\n`)
  process.exit(0)
}
const wanted = positional.length === 0 || positional.includes("all") ? scenarios : positional
const unknown = wanted.filter((s) => !scenarios.includes(s))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(", ")}\n${usage}\n`)
  process.exit(2)
}
const size = String(options.size ?? "small")
if (!(size in presets)) {
  process.stderr.write(`--size must be tiny, small or full, got ${size}\n`)
  process.exit(2)
}

let interrupted = false
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (interrupted) process.exit(130)
    interrupted = true
    log(`${sig}: killing the processes this run started`)
    killStarted("SIGKILL")
    setTimeout(() => process.exit(130), 3000).unref()
  })
}

const env = servicesEnv()
const fsync = String(options.fsync ?? "on")
if (fsync !== "on" && fsync !== "off") {
  process.stderr.write(`--fsync must be on or off, got ${fsync}\n`)
  process.exit(2)
}
// ALTER SYSTEM + reload (both settings are reloadable): the services keep running, and RESET puts them back.
const setDurability = async (value) => {
  const sql =
    value === undefined
      ? ["ALTER SYSTEM RESET fsync", "ALTER SYSTEM RESET full_page_writes"]
      : [`ALTER SYSTEM SET fsync = ${value}`, `ALTER SYSTEM SET full_page_writes = ${value}`]
  for (const q of [...sql, "SELECT pg_reload_conf()"]) await query(env.DATABASE_URL, q)
}
await setDurability(fsync)
log(`postgres: fsync and full_page_writes ${fsync} for this run`)
// The app's log level for every process started (default warn; the app's own default is info, which logs each request).
if (options.logLevel) process.env.BENCH_LOG_LEVEL = String(options.logLevel)
const profileDir = options.profile ? join(resultsDir, "profiles") : undefined
if (profileDir) mkdirSync(profileDir, { recursive: true })

let failures = 0
for (const name of wanted) {
  if (interrupted) break
  const scenario = await import(`./scenarios/${name}.mjs`)
  const scenarioOptions = { ...presets[size][name], ...options }
  const clean = cleanup()
  const startedAt = new Date().toISOString()
  const loadBefore = describeMachine().loadAverage
  log(`== ${name} (${size}): ${scenario.describe}`)
  try {
    let redis
    if (options.redis === "shared") {
      if (!env.REDIS_URL) throw new Error("--redis shared needs REDIS_URL")
      redis = { url: env.REDIS_URL, kind: "shared" }
    } else {
      const r = await startPrivateRedis()
      clean.add("private redis", () => r.stop())
      redis = { url: r.url, kind: "private redis-server on a free loopback port", pid: r.proc.pid }
    }
    const result = await scenario.run({
      options: scenarioOptions,
      env,
      redis,
      clean: options.keep ? { add: () => undefined } : clean,
      profileDir
    })
    const machine = describeMachine()
    const correct = (result.correctness ?? []).every((c) => c.ok)
    if (!correct) {
      failures++
      log(
        `${name}: correctness check failed: ${result.correctness
          .filter((c) => !c.ok)
          .map((c) => c.check)
          .join("; ")}`
      )
    }
    // --tag: a variant's results go to bench/results/<scenario>-<tag>.json, leaving the main one alone.
    // A tiny (smoke) run never replaces the recorded figures: it writes <scenario>-tiny.json (git-ignored).
    const tag = options.tag ?? (size === "tiny" ? "tiny" : undefined)
    writeResult(tag ? `${name}-${tag}` : name, {
      scenario: name,
      tag,
      size,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        ...machine,
        loadAverageBefore: loadBefore,
        loadAverageAfter: machine.loadAverage,
        loadAverage: undefined
      },
      appLogLevel: process.env.BENCH_LOG_LEVEL ?? "warn",
      versions: versions({ services: await serviceVersions(env), ...(result.toolVersions ?? {}) }),
      ...result,
      correct,
      toolVersions: undefined
    })
  } catch (e) {
    failures++
    log(`${name} FAILED: ${e.stack ?? e}`)
    process.stdout.write(`${JSON.stringify({ scenario: name, size, error: String(e.message ?? e).slice(0, 4000) })}\n`)
  } finally {
    await clean.run()
    killStarted("SIGKILL")
  }
}
await setDurability(undefined).catch((e) => log(`postgres: could not reset fsync: ${e.message ?? e}`))
process.exit(failures > 0 ? 1 : 0)
