// fanout: how many SSE events a server delivers before it falls behind. K clients (split over ≥ 2 node processes,
// loopback only, bounded in count and time) on the real `service`'s /api/events; this process writes ticks to Redis
// as the processor does (PUBLISH crypto:updates + XADD crypto:events, the stream the feed reads), at rising rates, each tick
// stamped with its moment on the schedule (lag = receipt − that), until delivery falls behind (bench/lib/fanout-ramp.mjs).
// Baseline, same run, driven the same way on a channel of its own: a bare node:http SSE broadcaster, each update
// serialised once and written to every client once per event-loop turn. Both servers start afresh every repetition
// (so memory per connection is never a reuse of the last one's), in alternating order.
import { rm, writeFile } from "node:fs/promises"
import os from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import { listOf } from "../../support/args.mjs"
import { createTopic, deleteTopics } from "../../support/kafka.mjs"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { freePort, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, unique } from "../../support/services.mjs"
import { benchSymbols } from "../../support/ticks.mjs"
import { ramp } from "../lib/fanout-ramp.mjs"
import { compareRep, summarise } from "../lib/fanout-summary.mjs"

export const describe =
  "K SSE clients (≥ 2 processes) on /api/events, ticks on the live channel at rising rates until delivery falls " +
  "behind, vs a bare node:http broadcaster"

const ratesOf = (options) => {
  if (options.rates !== undefined) return listOf(options.rates)
  const rates = []
  const factor = Number(options.rateFactor ?? 2)
  if (!(factor > 1)) throw new Error("--rate-factor must be above 1")
  for (let r = Number(options.rateStart); r <= Number(options.rateMax); r *= factor) rates.push(Math.round(r))
  return rates
}

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const clients = Number(options.clients)
  const processes = Number(options.clientProcesses ?? 2)
  const seconds = Number(options.seconds)
  const warmup = Number(options.warmup ?? 1)
  const settle = Number(options.settle ?? 2)
  const reps = Number(options.reps ?? 3)
  const behindMs = Number(options.behindMs ?? 1000)
  const rates = ratesOf(options)
  const coins = benchSymbols(Number(options.symbols ?? 50), "F")
  if (clients > 20_000) throw new Error("--clients is capped at 20,000 (file descriptors, one machine)")
  if (!(processes >= 2 && processes <= 8)) throw new Error("--client-processes must be 2..8")
  if (rates.length === 0) throw new Error("no rates: --rates a,b,… or --rate-start R --rate-max R")

  const topic = unique("bench_fan")
  const dbName = unique("bench_fan")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  // The service's own producer replays one tick of a symbol nobody asks for, then stops; the ticks come from here.
  const replay = join(os.tmpdir(), `${topic}.ndjson`)
  await writeFile(replay, `{"symbol":"NOOP","coinId":"noop","price":1,"eventTime":${Date.now() - 1000}}\n`)
  clean.add("replay file", () => rm(replay, { force: true }))
  const publisher = new Redis(redis.url)
  clean.add("publisher", async () => publisher.disconnect())

  const startService = async (rep) => {
    const port = await freePort()
    const proc = startCli(
      "service",
      {
        KAFKA_BROKERS: env.KAFKA_BROKERS,
        REDIS_URL: redis.url,
        DATABASE_URL: db,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: `${topic}_g`,
        SOURCE: `replay:${replay}`,
        REPLAY_SPEED: "max",
        // Every client comes from 127.0.0.1: lift the per-address cap (default 50) and the global one (10,000) to K.
        SSE_MAX_PER_ADDRESS: String(Math.max(50, clients)),
        SSE_MAX_CLIENTS: String(Math.max(10_000, clients)),
        PORT: String(port)
      },
      { cpuProfileDir: profileDir, name: `fanout-service-${rep}` }
    )
    clean.add(`service ${rep}`, () => proc.stop("SIGKILL"))
    await waitHealthy(proc, `http://127.0.0.1:${port}/health`)
    return {
      name: "service",
      proc,
      pid: proc.pid,
      url: `http://127.0.0.1:${port}/api/events`,
      channel: "crypto:updates",
      // The service's feed reads the stream (its SSE ids are the stream's ids), not the channel.
      stream: "crypto:events"
    }
  }
  const startBaseline = async (rep) => {
    const port = await freePort()
    const proc = startNodeScript(
      "baseline-sse.mjs",
      ["--port", String(port), "--redis", redis.url, "--channel", "bench:fanout"],
      { name: `fanout-baseline-${rep}` }
    )
    clean.add(`baseline ${rep}`, () => proc.stop("SIGKILL"))
    await lineReader(proc).next((m) => m.ev === "listening", 20_000, "baseline listening")
    return {
      name: "baseline",
      proc,
      pid: proc.pid,
      url: `http://127.0.0.1:${port}/api/events`,
      channel: "bench:fanout"
    }
  }

  const stepOptions = { clients, processes, rates, settle, coins, publisher, seconds, warmup, behindMs }
  const repetitions = []
  let baselineLimit
  for (let rep = 0; rep < reps; rep++) {
    const [service, baseline] = await Promise.all([startService(rep), startBaseline(rep)])
    // Interleaved: the baseline first in even repetitions, the service first in odd ones.
    const order = rep % 2 === 0 ? [baseline, service] : [service, baseline]
    const results = {}
    for (const server of order) {
      log(`fanout: repetition ${rep + 1}/${reps}: ${server.name}, ${clients} clients, rates ${rates.join(",")}`)
      // The service goes on to at least the rate the baseline fell behind at, so the two meet there.
      const mustReach = server.name === "service" ? baselineLimit : undefined
      results[server.name] = await ramp({ server, mustReach, ...stepOptions })
      if (server.name === "baseline" && results.baseline.fellBehindAt !== null)
        baselineLimit = Math.max(baselineLimit ?? 0, results.baseline.fellBehindAt)
    }
    const serviceExit = await service.proc.stop("SIGTERM")
    await baseline.proc.stop("SIGTERM")
    const comparison = compareRep(results.service, results.baseline)
    log(`fanout: repetition ${rep + 1}: ${JSON.stringify(comparison)}`)
    repetitions.push({ rep: rep + 1, order: order.map((s) => s.name), ...results, comparison, serviceExit })
  }
  const { overall, target } = summarise(repetitions.map((r) => r.comparison))
  const lowest = rates[0]
  return {
    parameters: {
      clients,
      clientProcesses: processes,
      rates,
      seconds,
      warmup,
      settle,
      repetitions: reps,
      symbols: coins.length,
      behind: `received in the window < 0.95 × window ticks × clients, all received < 0.99 × that, or lag p50 > ${behindMs} ms`,
      redis: redis.kind,
      events:
        "ticks written as the processor writes them (PUBLISH crypto:updates + XADD crypto:events, one script per " +
        "batch; the bare broadcaster: PUBLISH on its channel); no symbol filter",
      lag: "receipt − the tick's moment on the publisher's schedule (t0 + i / rate)"
    },
    figures: { repetitions },
    ratio: overall,
    correctness: [
      {
        check: `at ${lowest}/s both servers delivered every window tick to every client exactly once, in every repetition`,
        ok: repetitions.every((r) =>
          ["service", "baseline"].every((s) => {
            const first = r[s].steps[0]
            return first !== undefined && first.deliveredFraction === 1 && first.repeats === 0
          })
        )
      },
      {
        check: "no SSE connection closed during a ramp",
        ok: repetitions.every((r) => ["service", "baseline"].every((s) => r[s].steps.every((x) => x.closedEarly === 0)))
      }
    ],
    target: {
      ...target,
      note: clients < 10_000 ? `targets are for 10,000 clients; this run had ${clients}` : undefined
    }
  }
}
