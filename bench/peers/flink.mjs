// @ts-check
// The Flink peer (bench/peers/README.md, "Flink"): builds bench/peers/flink with Maven and runs its job in a local
// mini-cluster (one JVM) on a filled topic and a migrated database, measuring it until Postgres holds every tick and
// every candle interval counts each tick once.
import { execFile } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import pg from "pg"
import { jsonLines } from "../../support/lines.mjs"
import { benchDir } from "../../support/paths.mjs"
import { cpuMeter, procStat, startProcess } from "../../support/processes.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"

const run = promisify(execFile)
const projectDir = join(benchDir, "peers", "flink")
const pom = join(projectDir, "pom.xml")
const jarPath = join(projectDir, "target", "flink-candles.jar")
const intervals = ["1m", "5m", "15m", "1h", "1d"]
const allowedLatenessMs = 120_000 // our ALLOWED_LATENESS default (src/Config.ts)

/** @param {string} dir @returns {number} newest mtime under dir */
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name)
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }, 0)

export const flinkVersion = () => readFileSync(pom, "utf8").match(/<flink\.version>([^<]+)</)?.[1] ?? "unknown"

const mavenVersion = async () => {
  const { stdout } = await run("mvn", ["-v", "-B"], { env: { ...process.env, MAVEN_OPTS: "" } })
  // Without its colour codes (ESC [ … m): drop the control characters, then the brackets they opened.
  const line = [...(stdout.split("\n")[0] ?? "")].filter((c) => c >= " ").join("")
  return line.replace(/\[[0-9;]*m/g, "").trim()
}

/**
 * `mvn -B -q package` of the shaded jar; skipped while the jar is newer than pom.xml and src/. The first build
 * downloads the dependencies into ~/.m2.
 * @param {{ log?: (...parts: Array<unknown>) => void }} [options]
 */
export const buildFlink = async ({ log = () => undefined } = {}) => {
  const maven = await mavenVersion()
  const sources = Math.max(statSync(pom).mtimeMs, newest(join(projectDir, "src")))
  if (existsSync(jarPath) && statSync(jarPath).mtimeMs > sources)
    return { jar: jarPath, seconds: 0, cached: true, mavenVersion: maven, flinkVersion: flinkVersion() }
  log("flink: building bench/peers/flink (mvn -B -q package; the first build downloads its dependencies)")
  const t0 = performance.now()
  try {
    await run("mvn", ["-B", "-q", "package", "-DskipTests"], { cwd: projectDir, maxBuffer: 64 << 20 })
  } catch (e) {
    const err = /** @type {{ stdout?: string, stderr?: string, message: string }} */ (e)
    throw new Error(
      `flink: mvn package failed: ${err.message}\n${`${err.stdout ?? ""}${err.stderr ?? ""}`.slice(-4000)}`
    )
  }
  const seconds = round((performance.now() - t0) / 1000, 1)
  log(`flink: built in ${seconds} s`)
  return { jar: jarPath, seconds, cached: false, mavenVersion: maven, flinkVersion: flinkVersion() }
}

/** @param {string} url postgres://user:pass@host:port/db → JDBC URL, user and password */
const jdbcOf = (url) => {
  const u = new URL(url)
  return {
    jdbcUrl: `jdbc:postgresql://${u.host}${u.pathname}`,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password)
  }
}

/** @param {pg.Client} client */
const counts = async (client) => {
  const rows = (
    await client.query("SELECT interval, sum(tick_count)::bigint AS n, count(*)::int AS rows FROM candles GROUP BY 1")
  ).rows
  const candles = Object.fromEntries(intervals.map((i) => [i, Number(rows.find((r) => r.interval === i)?.n ?? 0)]))
  const candleRows = Object.fromEntries(intervals.map((i) => [i, rows.find((r) => r.interval === i)?.rows ?? 0]))
  return { candles, candleRows }
}

/** @param {pg.Client} client */
const tickCount = async (client) => Number((await client.query("SELECT count(*)::bigint AS n FROM ticks")).rows[0].n)

/**
 * Runs the job until Postgres holds `expectedTicks` ticks and every interval's candles count them all (or more:
 * double counting, reported), then stops the JVM.
 * @param {{ brokers: string, topic: string, databaseUrl: string, expectedTicks: number, parallelism?: number,
 *   checkpointMs?: number, groupId?: string, log?: (...parts: Array<unknown>) => void,
 *   clean?: { add: (name: string, f: () => unknown) => void }, timeoutMs?: number, earlyFireMs?: number,
 *   batchSize?: number, batchIntervalMs?: number, heap?: string, jar?: string, pollMs?: number,
 *   timeline?: boolean, unchainSinks?: boolean }} o `unchainSinks`: the tick sink in a thread of its own.
 *   `timeline`: also count the ticks in Postgres once a second (costs Postgres a scan each).
 */
export const runFlink = async ({
  brokers,
  topic,
  databaseUrl,
  expectedTicks,
  parallelism = 1,
  checkpointMs = 60_000,
  groupId = `flink_${topic}_${Date.now().toString(36)}`,
  log = () => undefined,
  clean,
  timeoutMs,
  earlyFireMs = 1_000,
  batchSize = 5_000,
  batchIntervalMs = 1_000,
  heap = "1g",
  jar,
  pollMs = 100,
  timeline = false,
  unchainSinks = false
}) => {
  const n = expectedTicks
  const built = jar === undefined ? await buildFlink({ log }) : { jar, flinkVersion: flinkVersion() }
  const { jdbcUrl, user, password } = jdbcOf(databaseUrl)
  const jvmArgs = [`-Xms${heap}`, `-Xmx${heap}`]
  // biome-ignore format: one option per line pair
  const jobArgs = [
    "--brokers", brokers, "--topic", topic, "--group", groupId, "--jdbc-url", jdbcUrl, "--user", user,
    "--password", password, "--parallelism", String(parallelism), "--checkpoint-ms", String(checkpointMs),
    "--allowed-lateness-ms", String(allowedLatenessMs), "--early-fire-ms", String(earlyFireMs),
    "--batch-size", String(batchSize), "--batch-interval-ms", String(batchIntervalMs), "--state-backend", "hashmap",
    "--unchain-sinks", String(unchainSinks), "--expected", String(n)
  ]
  const config = {
    flinkVersion: built.flinkVersion,
    parallelism,
    checkpointMs,
    checkpointingMode: "EXACTLY_ONCE (Kafka offsets and window state; the JDBC sinks are at-least-once)",
    stateBackend: "hashmap (heap), checkpoints in JobManager memory",
    watermark:
      `forBoundedOutOfOrderness(${allowedLatenessMs} ms) per Kafka partition, min over partitions; windows with ` +
      "allowedLateness 0: a window closes when newest event time − 2 min ≥ its end, as ours (ours is per market)",
    allowedLatenessMs,
    windows: "TumblingEventTimeWindows 1m/5m/15m/1h/1d (UTC-aligned), AggregateFunction + ProcessWindowFunction",
    trigger: `event time (final) + early firing at most every ${earlyFireMs} ms of processing time (provisional)`,
    sink:
      `flink-connector-jdbc Sink V2, at-least-once, batch ${batchSize} rows / ${batchIntervalMs} ms / every ` +
      "checkpoint; ticks INSERT … ON CONFLICT DO NOTHING (reWriteBatchedInserts), candles INSERT … ON CONFLICT DO UPDATE; " +
      (unchainSinks ? "the tick sink in its own thread" : "the tick sink chained to the source (one thread)"),
    notComputed: "indicators (SMA/EMA/RSI/Bollinger), dedupe of repeated ticks in candles, gaps, trade ids, DLQ, cache",
    jvm: `java ${jvmArgs.join(" ")} -jar flink-candles.jar`
  }

  const spawned = Date.now()
  const jvm = startProcess("java", [...jvmArgs, "-jar", built.jar, ...jobArgs], {
    env: { ...process.env },
    name: `flink-p${parallelism}-cp${checkpointMs}`
  })
  clean?.add("flink jvm", () => jvm.stop("SIGKILL"))
  const meter = cpuMeter(jvm.pid)
  meter.start()
  /** @type {number | undefined} */ let first
  /** @type {number | undefined} */ let firstCpu
  let undecodable = 0
  let consumed = false
  jsonLines(jvm, (m) => {
    if (m.ev === "consumed") consumed = true
    if (m.ev === "first" && first === undefined) {
      first = m.t
      firstCpu = procStat(jvm.pid)?.cpu
    }
    if (m.ev === "undecodable") undecodable = m.n
  })

  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const limit = timeoutMs ?? Math.max(300_000, n * 5)
  let done = 0
  let doneCpu = 0
  let last = { candles: {}, candleRows: {} }
  let ticks = 0
  /** @type {Array<{ s: number, ticks?: number, m1: number }>} */
  const progress = []
  let lastSample = 0
  try {
    for (;;) {
      if (!jvm.alive()) throw new Error(`flink: the JVM exited:\n${jvm.output().slice(-4000)}`)
      if (Date.now() - spawned > limit)
        throw new Error(
          `flink: timed out after ${limit} ms: ${ticks}/${n} ticks, candles ${JSON.stringify(last.candles)}\n` +
            jvm.output().slice(-3000)
        )
      // Postgres is polled for the end only once the source has read all N records (or for the timeline): the
      // scenario measures Postgres's CPU, and a query every 100 ms over the whole run would add to it.
      if (first !== undefined && (consumed || timeline)) {
        last = await counts(client)
        if (timeline && Date.now() - lastSample >= 1000) {
          lastSample = Date.now()
          const at = round((lastSample - first) / 1000, 1)
          progress.push({ s: at, ticks: await tickCount(client), m1: last.candles["1m"] })
        }
        if (intervals.every((i) => last.candles[i] >= n)) {
          ticks = await tickCount(client)
          if (ticks >= n) {
            done = Date.now()
            doneCpu = procStat(jvm.pid)?.cpu ?? Number.NaN
            break
          }
        }
      }
      await sleep(pollMs)
    }
  } finally {
    await client.end()
  }
  const usage = meter.stop()
  await jvm.stop("SIGTERM", 20_000)
  if (first === undefined || firstCpu === undefined) throw new Error("flink: no first record seen")
  const seconds = (done - first) / 1000
  const cpu = doneCpu - firstCpu
  const excess = intervals.reduce((a, i) => a + Math.max(0, last.candles[i] - n), 0)
  log(`flink p${parallelism} cp${checkpointMs}: ${Math.round(n / seconds)} ticks/s, ${round(cpu, 1)} CPU-s`)
  return {
    seconds: round(seconds, 3),
    ticksPerSecond: Math.round(n / seconds),
    startupSeconds: round((first - spawned) / 1000, 2),
    wallSeconds: round((done - spawned) / 1000, 2),
    cpuSeconds: { jvm: round(cpu, 2), jvmWithStartup: round(doneCpu, 2) },
    cpuSecondsPerMillionTicks: { jvm: round((cpu * 1e6) / n, 1) },
    jvmCpuPercent: round((100 * cpu) / seconds, 0),
    rssMaxMiB: usage.peakRssMiB ?? null,
    checks: {
      ticksInPostgres: ticks,
      candleTickCounts: last.candles,
      candleRows: last.candleRows,
      lost: Math.max(0, n - ticks),
      doubleCounted: excess,
      undecodable
    },
    config,
    ...(timeline ? { timeline: progress } : {})
  }
}
