// fanout: K concurrent SSE clients (one separate node process, loopback only, bounded in count and time) on the
// real `service`'s /api/events while its simulator ticks 10 symbols once a second (SIMULATOR_RATE=1), on Kafka,
// Postgres and a private Redis. Delivery lag = receipt − the tick's ingestTime (the simulator's clock at the tick).
// Baseline, same run: a bare node:http SSE broadcaster subscribed to the same Redis channel (so the same messages
// at the same rate), each update serialised once and written to every client; the same K clients.
import { createTopic, deleteTopics } from "../../support/kafka.mjs"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { cpuMeter, freePort, procStat, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, unique } from "../../support/services.mjs"
import { ratio, round } from "../../support/statistics.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import { topicTicks } from "../lib/topic-ticks.mjs"

export const describe =
  "K SSE clients on /api/events with the simulator at 1 tick/s × 10 symbols, vs a bare node:http broadcaster"

const rssSample = async (pid, n = 5) => {
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += procStat(pid)?.rss ?? 0
    await sleep(200)
  }
  return sum / n
}

const runPhase = async ({ name, url, pid, clients, seconds, settle, tap }) => {
  const idleRss = await rssSample(pid)
  // A saturated server accepts slowly: the wait for K connections scales with K (50 ms each, at least 4 minutes).
  const connectSeconds = Math.max(240, Math.ceil(clients * 0.05))
  const proc = startNodeScript(
    "sse-clients.mjs",
    [
      "--url",
      url,
      "--clients",
      String(clients),
      "--concurrency",
      "50",
      "--max-seconds",
      String(connectSeconds + Math.ceil(seconds + settle) + 120)
    ],
    { name: `fanout-clients-${name}`, stdin: "pipe" }
  )
  const lines = lineReader(proc)
  const connected = await lines.next((m) => m.ev === "connected", connectSeconds * 1000, "all connections")
  if (connected.failed > 0)
    throw new Error(
      `${name}: ${connected.failed} of ${clients} SSE connections were refused or failed: ${JSON.stringify(connected.failures)}`
    )
  log(`fanout: ${name}: ${connected.clients} connected (${connected.failed} failed) in ${connected.millis} ms`)
  await sleep(settle * 1000)
  const connectedRss = await rssSample(pid)
  // The simulator ticks once a second, all symbols at once: the receipt window's edges go half-way between two
  // bursts, so it holds exactly `seconds` of them (while the lag stays under 500 ms); the ingest window counts the
  // ticks sent in it whenever they arrive (the lag percentiles and completeness come from it).
  tap.proc.send({ cmd: "report" })
  const lastIngest = (await tap.lines.after((m) => m.ev === "report", 20_000, "tap report")).totals.lastIngest
  let from = lastIngest + 500
  while (from < Date.now() + 300) from += 1000
  const to = from + seconds * 1000
  for (const p of [proc, tap.proc]) {
    p.send({ cmd: "phase", name, by: "receipt", from, to })
    p.send({ cmd: "phase", name: `${name}:ticks`, by: "ingest", from, to })
  }
  await sleep(from - Date.now())
  const serverCpu = cpuMeter(pid)
  const clientCpu = cpuMeter(proc.pid)
  serverCpu.start()
  clientCpu.start()
  await sleep(seconds * 1000)
  const server = serverCpu.stop()
  const client = clientCpu.stop()
  // Stragglers of the ingest window: until its tick count stops growing for 2 s (at most 30 s).
  let report
  let previous = -1
  for (let waited = 0; waited < 30_000; waited += 2000) {
    await sleep(2000)
    proc.send({ cmd: "report" })
    report = await lines.after((m) => m.ev === "report", 60_000, "report")
    const now = report.phases[`${name}:ticks`].ticks
    if (now === previous) break
    previous = now
  }
  tap.proc.send({ cmd: "report" })
  const tapReport = await tap.lines.after((m) => m.ev === "report", 20_000, "tap report")
  proc.send({ cmd: "close" })
  await Promise.race([proc.exited, sleep(15_000).then(() => proc.stop("SIGKILL"))])
  await sleep(2000)
  const afterRss = await rssSample(pid)
  const got = report.phases[name]
  const channel = tapReport.phases[name]
  const ticks = report.phases[`${name}:ticks`]
  const channelTicks = tapReport.phases[`${name}:ticks`]
  const expected = channel.events * connected.clients
  return {
    clientsConnected: connected.clients,
    connectFailed: connected.failed,
    connectMillis: connected.millis,
    closedDuringRun: report.closedEarly,
    channelEventsPerSecond: round(channel.events / seconds, 1),
    deliveredEvents: got.events,
    expectedEvents: expected,
    deliveredFraction: expected > 0 ? round(got.events / expected, 4) : null,
    deliveredPerSecond: round(got.events / seconds, 0),
    ticksSentInWindow: channelTicks.ticks,
    ticksDelivered: ticks.ticks,
    tickRepeats: ticks.repeats,
    channelTickRepeats: channelTicks.repeats,
    window: { from, to },
    ticksDeliveredFraction:
      channelTicks.ticks > 0 ? round(ticks.ticks / (channelTicks.ticks * connected.clients), 4) : null,
    lagMs: got.lagMs,
    lagOfWindowTicksMs: ticks.lagMs,
    channelLagMs: channelTicks.lagMs,
    serverCpuPercent: server.cpuPercent,
    clientProcessCpuPercent: client.cpuPercent,
    rssIdleMiB: round(idleRss / 2 ** 20, 1),
    rssConnectedMiB: round(connectedRss / 2 ** 20, 1),
    rssAfterCloseMiB: round(afterRss / 2 ** 20, 1),
    rssPerConnectionKiB: connected.clients > 0 ? round((connectedRss - idleRss) / connected.clients / 1024, 1) : null
  }
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const clients = Number(options.clients)
  const seconds = Number(options.seconds)
  const settle = Number(options.settle ?? 5)
  if (clients > 20_000) throw new Error("--clients is capped at 20,000 (file descriptors, one machine)")
  const topic = unique("bench_fan")
  const dbName = unique("bench_fan")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))

  const svcPort = await freePort()
  const service = startCli(
    "service",
    {
      KAFKA_BROKERS: env.KAFKA_BROKERS,
      REDIS_URL: redis.url,
      DATABASE_URL: db,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: unique("bench_fan"),
      SOURCE: "simulator",
      SIMULATOR_RATE: "1",
      SIMULATOR_SEED: "42",
      // Every client comes from 127.0.0.1: lift the per-address cap (default 50) and the global one (10,000) to K.
      SSE_MAX_PER_ADDRESS: String(Math.max(50, clients)),
      SSE_MAX_CLIENTS: String(Math.max(10_000, clients)),
      PORT: String(svcPort)
    },
    { cpuProfileDir: profileDir, name: "fanout-service" }
  )
  clean.add("service", () => service.stop("SIGKILL"))
  const basePort = await freePort()
  const base = startNodeScript(
    "baseline-sse.mjs",
    ["--port", String(basePort), "--redis", redis.url, "--channel", "crypto:updates"],
    { name: "fanout-baseline" }
  )
  clean.add("baseline", () => base.stop("SIGKILL"))
  await lineReader(base).next((m) => m.ev === "listening", 20_000, "baseline listening")
  await waitHealthy(service, `http://127.0.0.1:${svcPort}/health`)

  const tapProc = startNodeScript(
    "sse-clients.mjs",
    ["--redis", redis.url, "--channel", "crypto:updates", "--max-seconds", "3600"],
    { name: "fanout-tap", stdin: "pipe" }
  )
  const tap = { proc: tapProc, lines: lineReader(tapProc) }
  clean.add("tap", async () => tapProc.send({ cmd: "close" }))
  await tap.lines.next((m) => m.ev === "connected", 20_000, "tap")
  // Updates are flowing (the processor joined and the simulator ticks) before anyone measures.
  await eventually(
    async () => {
      tap.proc.send({ cmd: "report" })
      const r = await tap.lines.after((m) => m.ev === "report", 5000, "tap report")
      return r.totals.ticks >= 20 ? true : undefined
    },
    120_000,
    "live updates on the Redis channel",
    500
  )

  log(`fanout: service, ${clients} clients for ${seconds} s`)
  const svc = await runPhase({
    name: "service",
    url: `http://127.0.0.1:${svcPort}/api/events`,
    pid: service.pid,
    clients,
    seconds,
    settle,
    tap
  })
  log(
    `fanout: service delivered ${svc.deliveredPerSecond}/s (${svc.deliveredFraction} of expected), lag p99 ${svc.lagMs.p99} ms`
  )
  log(`fanout: baseline, ${clients} clients for ${seconds} s`)
  const bare = await runPhase({
    name: "baseline",
    url: `http://127.0.0.1:${basePort}/api/events`,
    pid: base.pid,
    clients,
    seconds,
    settle,
    tap
  })
  log(
    `fanout: baseline delivered ${bare.deliveredPerSecond}/s (${bare.deliveredFraction} of expected), lag p99 ${bare.lagMs.p99} ms`
  )
  const stopped = await service.stop("SIGTERM")
  // What the service was given in its window (its topic), each of which every client must have received once.
  const source = await topicTicks(env.KAFKA_BROKERS, topic, svc.window.from, svc.window.to)
  svc.ticksInTopicInWindow = source.length

  return {
    parameters: {
      clients,
      seconds,
      settle,
      symbols: 10,
      simulatorRate: 1,
      clientProcesses: 1,
      redis: redis.kind,
      events: "tick + candle (1m/5m/15m/1h/1d) updates, no symbol filter"
    },
    figures: { service: svc, baseline: bare, serviceExit: stopped },
    ratio: {
      deliveredPerSecond: ratio(svc.deliveredPerSecond, bare.deliveredPerSecond),
      lagP99: ratio(svc.lagMs.p99, bare.lagMs.p99),
      rssPerConnection: ratio(svc.rssPerConnectionKiB, bare.rssPerConnectionKiB),
      definition:
        "service ÷ baseline: delivered SSE events per second (higher is better), p99 lag and memory per connection (lower is better)"
    },
    correctness: [
      { check: "every client connected to both servers", ok: svc.connectFailed === 0 && bare.connectFailed === 0 },
      {
        check:
          "the service delivered every tick of its topic's window to every client exactly once " +
          `(${svc.ticksDelivered} delivered, ${svc.tickRepeats} repeated, ${source.length} in it × ${svc.clientsConnected} clients)`,
        ok: source.length > 0 && svc.ticksDelivered === source.length * svc.clientsConnected && svc.tickRepeats === 0
      },
      {
        check: "the baseline delivered every tick to every client exactly once (the harness itself loses nothing)",
        ok: bare.ticksDeliveredFraction === 1 && bare.tickRepeats === 0
      }
    ],
    target: {
      deliveredRatio: 0.8,
      lagP99Ms: 250,
      met: ratio(svc.deliveredPerSecond, bare.deliveredPerSecond) >= 0.8 && svc.lagMs.p99 < 250,
      note: clients < 10_000 ? `target is for 10,000 clients; this run had ${clients}` : undefined
    }
  }
}
