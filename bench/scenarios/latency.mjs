// latency: publish → SSE receipt. The real `service` runs on Kafka, Postgres and a private Redis; this process
// publishes ticks to its topic on a fixed schedule, each stamped (ingestTime) with its moment on it, t0 + i / rate,
// not the moment it left (a stalled publisher would hide its own delay), and one SSE client (its own process) on
// /api/events measures receipt time − that moment for each tick. Repeated `--reps` times, interleaved (baseline and
// service alternate which goes first), reported as the median and spread. `--app-env K=V,…` goes to the service;
// `--compare-dist DIR[,DIR]` adds other builds of ours (e.g. before a change) as `service@DIR`, each on its own Redis.
// Baseline, same run, same publisher and client, its own topic: the bare path with the same hops, in one node
// process (kafkajs eachBatch → JSON.parse → Redis pipeline SETEX + PUBLISH → Redis subscriber → node:http SSE).
import { rm, writeFile } from "node:fs/promises"
import os from "node:os"
import { basename, join } from "node:path"
import { listOf } from "../../support/args.mjs"
import { createTopic, deleteTopics, producer } from "../../support/kafka.mjs"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { cpuMeter, freePort, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, startPrivateRedis, unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import { kafkaSender, parseEnvList, publishOnSchedule } from "../lib/latency-schedule.mjs"
import { latencySummary } from "../lib/latency-summary.mjs"

export const describe =
  "publish → SSE receipt, p50/p99/max at each rate, vs a bare kafkajs → Redis → node:http SSE relay"

const startClient = async (url, name, channel) => {
  const target = channel === undefined ? ["--url", url, "--clients", "1"] : ["--redis", url, "--channel", channel]
  const proc = startNodeScript("sse-clients.mjs", [...target, "--max-seconds", "900"], { name, stdin: "pipe" })
  const lines = lineReader(proc)
  const connected = await lines.next((m) => m.ev === "connected", 20_000, "connection")
  if (connected.clients !== 1) throw new Error(`${name}: SSE client could not connect to ${url}`)
  return { proc, lines }
}

const report = async (client) => {
  client.proc.send({ cmd: "report" })
  return client.lines.after((m) => m.ev === "report", 20_000, "report")
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const rates = listOf(options.rates)
  const seconds = Number(options.seconds)
  const warmup = Number(options.warmup ?? 3)
  const symbols = Number(options.symbols ?? 50)
  const reps = Number(options.reps ?? 3)
  const appEnv = parseEnvList(options.appEnv)
  const compared = options.compareDist ? String(options.compareDist).split(",") : []
  const coins = benchSymbols(symbols, "L")
  const svcTopic = unique("bench_lat")
  const baseTopic = unique("bench_latbase")
  const dbName = unique("bench_lat")
  await createTopic(env.KAFKA_BROKERS, svcTopic, 3)
  await createTopic(env.KAFKA_BROKERS, baseTopic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [svcTopic, `${svcTopic}.dlq`, baseTopic]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  // The service's own producer replays one tick of a symbol nobody asks for, then stops; the ticks come from here.
  const replay = join(os.tmpdir(), `${svcTopic}.ndjson`)
  await writeFile(replay, `{"symbol":"NOOP","coinId":"noop","price":1,"eventTime":${Date.now() - 1000}}\n`)
  clean.add("replay file", () => rm(replay, { force: true }))

  // Ours, and each --compare-dist build (another build's dist/, e.g. before a change) with its own topic, database
  // and private Redis (the live channel and cache keys have fixed names), measured the same way.
  const startService = async (target, dist) => {
    const topic = target === "service" ? svcTopic : unique("bench_latcmp")
    const url = target === "service" ? db : await createDatabase(env.DATABASE_URL, `${dbName}_${targets.length}`)
    const cache = target === "service" ? redis : await startPrivateRedis()
    if (target !== "service") {
      await createTopic(env.KAFKA_BROKERS, topic, 3)
      clean.add(`${target} topic`, () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
      clean.add(`${target} database`, () => dropDatabase(env.DATABASE_URL, url.split("/").pop()))
      clean.add(`${target} redis`, () => cache.stop())
    }
    const port = await freePort()
    const proc = startCli(
      "service",
      {
        KAFKA_BROKERS: env.KAFKA_BROKERS,
        REDIS_URL: cache.url,
        DATABASE_URL: url,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: unique("bench_lat"),
        SOURCE: `replay:${replay}`,
        REPLAY_SPEED: "max",
        PORT: String(port),
        ...appEnv
      },
      { cpuProfileDir: profileDir, name: `latency-${target}`, ...(dist === undefined ? {} : { dist }) }
    )
    clean.add(target, () => proc.stop("SIGKILL"))
    targets.push({ target, proc, port, topic, db: url, redisUrl: cache.url })
  }
  const targets = []
  await startService("service")
  for (const dir of compared) await startService(`service@${basename(dir)}`, dir)
  const basePort = await freePort()
  const base = startNodeScript(
    "baseline-sse.mjs",
    [
      "--port",
      String(basePort),
      "--redis",
      redis.url,
      "--channel",
      "bench:updates",
      "--relay-topic",
      baseTopic,
      "--brokers",
      env.KAFKA_BROKERS,
      "--group",
      unique("bench_latbase")
    ],
    { name: "latency-baseline" }
  )
  clean.add("baseline", () => base.stop("SIGKILL"))
  const baseLines = lineReader(base)

  for (const t of targets) {
    await waitHealthy(t.proc, `http://127.0.0.1:${t.port}/health`)
    // The processor has joined the group and claimed its partitions: ticks published from now on flow at once.
    await eventually(
      async () => {
        const rows = await query(t.db, "SELECT count(*)::int AS n FROM processor_checkpoints WHERE topic = $1", [
          t.topic
        ])
        return rows[0].n === 3 ? true : undefined
      },
      60_000,
      `the ${t.target}'s processor to claim its partitions`,
      200
    )
  }
  await baseLines.next((m) => m.ev === "joined", 60_000, "baseline consumer join")

  const filter = coins.map((c) => c.symbol).join(",")
  for (const t of targets) {
    t.client = await startClient(
      `http://127.0.0.1:${t.port}/api/events?symbols=${filter}`,
      `latency-client-${t.target}`
    )
    // A tap on the Redis live channel: publish → the processor's (or relay's) PUBLISH, the first half of the path.
    t.tap = await startClient(t.redisUrl, `latency-tap-${t.target}`, "crypto:updates")
  }
  const bare = {
    target: "baseline",
    proc: base,
    topic: baseTopic,
    client: await startClient(`http://127.0.0.1:${basePort}/api/events`, "latency-client-baseline"),
    tap: await startClient(redis.url, "latency-tap-baseline", "bench:updates")
  }
  clean.add("clients", async () => {
    for (const t of [...targets, bare]) for (const c of [t.client, t.tap]) c.proc.send({ cmd: "close" })
    await sleep(200)
  })

  const prod = await producer(env.KAFKA_BROKERS)
  clean.add("publisher", () => prod.disconnect())
  const measure = async (target, rate, rep) => {
    const name = `${target}@${rate}#${rep}`
    const { client, tap, proc, topic } = target === "baseline" ? bare : targets.find((t) => t.target === target)
    const pid = proc.pid
    const startAt = Date.now() + 200
    const from = startAt + warmup * 1000
    const to = from + seconds * 1000
    client.proc.send({ cmd: "phase", name, by: "ingest", from, to })
    tap.proc.send({ cmd: "phase", name, by: "ingest", from, to })
    const totalsBefore = (await report(client)).totals
    let inWindow = 0
    const cpu = cpuMeter(pid)
    const clientCpu = cpuMeter(client.proc.pid)
    log(`latency: ${name}/s for ${warmup} + ${seconds} s`)
    let metering = false
    const published = await publishOnSchedule({
      coins,
      rate,
      seconds: warmup + seconds,
      startAt,
      send: kafkaSender(prod, topic),
      onTick: (intended) => {
        if (intended >= from && intended < to) inWindow++
        if (!metering && intended >= from) {
          metering = true
          cpu.start()
          clientCpu.start()
        }
      }
    })
    const usage = cpu.stop()
    const clientUsage = clientCpu.stop()
    // Stragglers: wait until the window's ticks arrived, at most 30 s (a backlog shows up as loss, not a hang).
    let last
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      last = await report(client)
      if (last.phases[name].ticks >= inWindow) break
      await sleep(500)
    }
    const got = last.phases[name]
    const tapped = (await report(tap)).phases[name]
    const events = last.totals.events - totalsBefore.events
    log(
      `latency: ${name}: p50 ${got.lagMs.p50} p99 ${got.lagMs.p99} max ${got.lagMs.max} ms, ` +
        `${got.ticks}/${inWindow} received; to Redis p50 ${tapped.lagMs.p50} p99 ${tapped.lagMs.p99}`
    )
    await sleep(1000)
    return {
      name,
      target,
      rate,
      rep,
      publisher: published,
      sentInWindow: inWindow,
      received: got.ticks,
      repeats: got.repeats,
      missing: inWindow - (got.ticks - got.repeats),
      lagMs: got.lagMs,
      toRedisLagMs: tapped.lagMs,
      sseEventsPerSecond: round(events / (warmup + seconds), 0),
      serverCpuPercent: usage.cpuPercent,
      serverRssMiB: usage.rssMiB,
      clientCpuPercent: clientUsage.cpuPercent
    }
  }

  const phases = []
  for (let rep = 1; rep <= reps; rep++) {
    for (const rate of rates) {
      // Interleaved: the baseline first in odd repetitions, the service first in even ones (a backlog the one
      // leaves behind, or the machine's drift, weighs on both alike over the repetitions).
      // With --compare-dist the order rotates by one each repetition instead.
      const names = ["baseline", ...targets.map((t) => t.target)]
      const shift = names.length === 2 ? (rep % 2 === 1 ? 0 : 1) : (rep - 1) % names.length
      const order = [...names.slice(shift), ...names.slice(0, shift)]
      for (const target of order) phases.push(await measure(target, rate, rep))
    }
  }
  const byRate = latencySummary(
    phases,
    rates,
    targets.slice(1).map((t) => t.target)
  )
  const at1k = byRate[1000]?.service
  const stopped = await targets[0].proc.stop("SIGTERM")
  const p99At1k = at1k?.lagMs.p99.median
  return {
    parameters: {
      rates,
      seconds,
      warmup,
      repetitions: reps,
      symbols,
      partitions: 3,
      clients: 1,
      sseFilter: "symbols=L00…",
      appEnv,
      compared: Object.fromEntries(compared.map((dir) => [`service@${basename(dir)}`, dir])),
      redis: redis.kind,
      lag: "receipt − the tick's moment on the publisher's schedule (t0 + i / rate), not the moment it was sent",
      timeResolution: "1 ms (Date.now() on both ends, one machine, one clock)"
    },
    figures: { byRate, serviceExit: stopped },
    ratio: Object.fromEntries(rates.map((r) => [`p99@${r}`, byRate[r].ratio.p99])),
    // Each tick sent in the window arrives once: the received count equals what was sent and none was a repeat (a
    // service that loses some and doubles others must not pass on the sum).
    correctness: rates.flatMap((r) =>
      ["service", "baseline", ...targets.slice(1).map((t) => t.target)].map((target) => {
        const p = byRate[r][target]
        return {
          check:
            target !== "baseline"
              ? `the ${target} delivered every tick sent at ${r}/s exactly once, in every repetition ` +
                `(${p.received} received, ${p.repeats} repeated, ${p.sentInWindow} sent)`
              : `the baseline relay delivered every tick at ${r}/s exactly once (the harness itself loses nothing)`,
          ok: p.received === p.sentInWindow && p.repeats === 0
        }
      })
    ),
    target: at1k
      ? {
          p99At1000PerSecondMsAtMost: 50,
          measured: { p99MedianMs: p99At1k, p99Spread: at1k.lagMs.p99, missing: at1k.missing },
          met: p99At1k <= 50 && at1k.missing === 0
        }
      : { note: "no 1,000/s phase in this run" }
  }
}
