// venues: three fake venues (test/support/FakeVenue.ts, bundled at run time) push trades at a steady total rate
// (5,000/s) over 30 markets into the real pipeline: `producer` (SOURCE=binance,coinbase,kraken, its *_WS_URL and
// *_REST_URL on the fakes) → Kafka → `processor` → Postgres + a private Redis → `api` → one SSE client.
// Measured: trades/s stored durably, trade → SSE latency (receipt − the trade's time, which is its send moment),
// checkpoint size, CPU-seconds of each process. Baselines in the same run, on the same trades read back from the
// pipeline's topic: a bare kafkajs consumer draining it, and a bare kafkajs → Redis → SSE relay fed at the same rate.
import { createTopic, deleteTopics, endOffsets, kafka } from "../../support/kafka.mjs"
import { lineReader, waitHealthy } from "../../support/lines.mjs"
import { freePort, startCli, startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { createDatabase, dropDatabase, query, unique } from "../../support/services.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import { bundleFakeVenue } from "../lib/bundle-fake.mjs"
import { clientReport, cpuSeconds, drainBaseline, relayBaseline, sseClient } from "../lib/venues-baseline.mjs"
import { reached, report } from "../lib/venues-report.mjs"

export const describe =
  "3 fake venues × 30 markets (5,000 trades/s at small) → producer → Kafka → processor → Postgres/Redis → api SSE, " +
  "vs a bare kafkajs consumer and relay fed the same trades"

// The producer's default markets (src/Config/Sources.ts defaultVenueMarkets), named here in full.
const bases = {
  binance: ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "TRX"],
  coinbase: ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC", "DOT"],
  kraken: ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "LTC", "DOT"]
}
const allMarkets = Object.entries(bases).flatMap(([v, bs]) =>
  bs.map((b) => `${v}:${b}-${v === "binance" ? "USDT" : "USD"}`)
)

const notBuilt = /venue source is not built into this version/

/** The three app processes on the fakes; resolves once the api answers and the processor holds its partitions. */
const startPipeline = async ({ env, redis, clean, profileDir, topic, db, markets, venues }) => {
  const processor = startCli(
    "processor",
    { KAFKA_BROKERS: env.KAFKA_BROKERS, REDIS_URL: redis.url, DATABASE_URL: db, KAFKA_TOPIC: topic },
    { cpuProfileDir: profileDir, name: "venues-processor" }
  )
  clean.add("processor", () => processor.stop("SIGKILL"))
  const apiPort = await freePort()
  const api = startCli(
    "api",
    { REDIS_URL: redis.url, DATABASE_URL: db, PORT: String(apiPort) },
    { cpuProfileDir: profileDir, name: "venues-api" }
  )
  clean.add("api", () => api.stop("SIGKILL"))
  const urls = {}
  for (const [venue, u] of Object.entries(venues)) {
    urls[`${venue.toUpperCase()}_WS_URL`] = u.ws
    urls[`${venue.toUpperCase()}_REST_URL`] = u.rest
  }
  const producer = startCli(
    "producer",
    {
      KAFKA_BROKERS: env.KAFKA_BROKERS,
      KAFKA_TOPIC: topic,
      SOURCE: "binance,coinbase,kraken",
      MARKETS: markets.join(","),
      ...urls
    },
    { cpuProfileDir: profileDir, name: "venues-producer" }
  )
  clean.add("producer", () => producer.stop("SIGKILL"))
  await waitHealthy(api, `http://127.0.0.1:${apiPort}/health`)
  await eventually(
    async () => {
      if (!processor.alive()) throw new Error(`processor exited:\n${processor.output().slice(-3000)}`)
      const rows = await query(db, "SELECT count(*)::int AS n FROM processor_checkpoints WHERE topic = $1", [topic])
      return rows[0].n === 3 ? true : undefined
    },
    90_000,
    "the processor to claim its partitions",
    200
  )
  return { processor, api, producer, apiPort }
}

/** Bounded wait for a line of the fake venues, failing at once if the producer says it has no venue source yet. */
const fakeLine = async (fake, producer, ev, ms) => {
  let done = false
  const watch = async () => {
    while (!done) {
      if (notBuilt.test(producer.output()))
        throw new Error("the producer has no venue sources in this build (src/Sources/Venues.ts `live` is not wired)")
      if (!producer.alive()) throw new Error(`producer exited:\n${producer.output().slice(-3000)}`)
      await sleep(250)
    }
  }
  try {
    const line = await Promise.race([fake.lines.next((m) => m.ev === ev || m.ev === "error", ms, ev), watch()])
    if (line.ev === "error") throw new Error(`fake venues: ${line.message}`)
    return line
  } finally {
    done = true
  }
}

const storedCount = async (client) =>
  Number((await client.query("SELECT count(*)::bigint AS n FROM ticks WHERE trade_id >= 0")).rows[0].n)

/** Polls Postgres (durable) and the topic (published) until every trade sent is stored, or the drain timeout. */
const follow = async ({ db, env, topic, fake, after, want, seconds, drainTimeout }) => {
  const pg = (await import("pg")).default
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const timeline = []
  let ran
  // Until the fakes report the phase sent: its length and two minutes; then the drain timeout.
  const sendDeadline = Date.now() + seconds * 1000 + 120_000
  let deadline = Number.POSITIVE_INFINITY
  try {
    for (;;) {
      const t = Date.now()
      const stored = await storedCount(client)
      const published = [...(await endOffsets(admin, topic)).values()].reduce((a, b) => a + b, 0)
      timeline.push({ t, stored, published })
      ran ??= fake.lines.lines.slice(after).find((m) => m.ev === "ran")
      if (ran !== undefined && deadline === Number.POSITIVE_INFINITY) deadline = Date.now() + drainTimeout * 1000
      if (ran !== undefined && stored >= want(ran)) break
      if (Date.now() > deadline) break
      if (ran === undefined && (Date.now() > sendDeadline || !fake.proc.alive()))
        throw new Error(`the fake venues did not finish sending:\n${fake.proc.output().slice(-2000)}`)
      await sleep(250)
    }
  } finally {
    await client.end()
    await admin.disconnect()
  }
  return { ran, timeline }
}

/** Per-market truth: every trade the fake sent (the warm-up one and the run's) stored once, nothing else. */
const checkStored = async (db, ran, warm) => {
  const rows = await query(
    db,
    "SELECT market, count(*)::int AS n, count(DISTINCT trade_id)::int AS ids, min(trade_id)::bigint AS lo, " +
      "max(trade_id)::bigint AS hi FROM ticks WHERE trade_id >= 0 GROUP BY market"
  )
  const byMarket = new Map(rows.map((r) => [r.market, r]))
  const wrong = Object.entries(ran.perMarket).filter(([m, p]) => {
    const r = byMarket.get(m)
    return !r || r.n !== p.count + warm || r.ids !== r.n || Number(r.hi) !== p.last || Number(r.lo) !== p.first - warm
  })
  const [gaps] = await query(db, "SELECT count(*)::int AS n FROM gaps")
  const [extra] = await query(db, "SELECT count(*)::int AS n FROM ticks WHERE trade_id < 0")
  return { markets: rows.length, wrongMarkets: wrong.map(([m]) => m), gaps: gaps.n, samples: extra.n }
}

const checkpointSize = (db, topic) =>
  query(
    db,
    "SELECT partition, octet_length(state::text)::int AS bytes, pg_column_size(state)::int AS stored " +
      "FROM processor_checkpoints WHERE topic = $1 ORDER BY partition",
    [topic]
  )

const dlqRecords = async (env, topic) => {
  const admin = kafka(env.KAFKA_BROKERS).admin()
  await admin.connect()
  const n = [...(await endOffsets(admin, `${topic}.dlq`).catch(() => new Map())).values()].reduce((a, b) => a + b, 0)
  await admin.disconnect()
  return n
}

/** Everything up to a flowing pipeline: the fakes, a topic, a database, the three app processes, the SSE client. */
const setUp = async ({ options, env, redis, clean, profileDir }) => {
  const markets = options.markets ? String(options.markets).split(",") : allMarkets
  const bundle = await bundleFakeVenue()
  const fakeProc = startNodeScript("fake-venues.mjs", ["--fake", bundle.file, "--markets", markets.join(",")], {
    name: "fake-venues",
    stdin: "pipe"
  })
  clean.add("fake venues", () => fakeProc.stop("SIGKILL"))
  const fake = { proc: fakeProc, lines: lineReader(fakeProc) }
  const { venues } = await fake.lines.next((m) => m.ev === "ready", 30_000, "ready")
  const topic = unique("bench_ven")
  const dbName = unique("bench_ven")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("topics", () => deleteTopics(env.KAFKA_BROKERS, [topic, `${topic}.dlq`]))
  const db = await createDatabase(env.DATABASE_URL, dbName)
  clean.add("database", () => dropDatabase(env.DATABASE_URL, dbName))
  const migrate = startCli("migrate", { DATABASE_URL: db })
  if ((await migrate.exited).code !== 0) throw new Error(`migrate failed: ${migrate.output()}`)
  log(`venues: starting producer, processor and api on ${markets.length} markets`)
  const app = await startPipeline({ env, redis, clean, profileDir, topic, db, markets, venues })
  const sse = await sseClient(`http://127.0.0.1:${app.apiPort}/api/events`, "venues-client")
  clean.add("client", () => sse.proc.stop("SIGKILL"))
  fakeProc.send({ cmd: "warm" })
  await fakeLine(fake, app.producer, "warmed", 120_000)
  await eventually(
    async () => ((await query(db, "SELECT count(*)::int AS n FROM ticks"))[0].n >= markets.length ? true : undefined),
    120_000,
    "the warm-up trades (one per market) in Postgres",
    250
  ).catch(async (e) => {
    const [n] = await query(db, "SELECT count(*)::int AS n FROM ticks")
    const tail = (p) => `--- ${p.name} ---\n${p.output().slice(-2500)}`
    throw new Error(`${e.message} (${n.n} there)\n${tail(app.producer)}\n${tail(app.processor)}`)
  })
  return { markets, bundle, fake, topic, db, app, sse }
}

/**
 * One phase: `rate` trades/s for `seconds`, followed until Postgres holds them all. The SSE client counts the trades
 * whose time falls in [from, from + seconds + 5 s): this phase's only, as the next starts after that.
 */
const phase = async (ctx, { name, rate, seconds, stored, drainTimeout, meters = {} }) => {
  const { fake, sse, env, topic, db } = ctx
  for (const m of Object.values(meters)) m.start()
  const from = Date.now()
  const to = from + seconds * 1000 + 5000
  sse.proc.send({ cmd: "phase", name, by: "ingest", from, to })
  const after = fake.lines.lines.length
  fake.proc.send({ cmd: "run", rate, seconds })
  const want = (r) => stored + r.sent
  const { ran, timeline } = await follow({ db, env, topic, fake, after, want, seconds, drainTimeout })
  const cpu = Object.fromEntries(Object.entries(meters).map(([k, m]) => [k, m.stop()]))
  if (ran === undefined) throw new Error(`${name}: the fake venues never finished sending`)
  const got = await clientReport(sse, name, ran.sent)
  if (Date.now() < to) await sleep(to - Date.now())
  return {
    rate,
    seconds,
    ran,
    timeline,
    stored,
    storedAt: reached(timeline, "stored", want(ran)),
    publishedAt: reached(timeline, "published", want(ran)),
    got,
    cpu
  }
}

/** Both phases' trades of each market: the first of the first phase to the last of the last. */
const merged = (a, b) =>
  b === undefined
    ? a.perMarket
    : Object.fromEntries(
        Object.entries(a.perMarket).map(([m, p]) => [
          m,
          { first: p.first, last: b.perMarket[m].last, count: p.count + b.perMarket[m].count }
        ])
      )

export const run = async ({ options, env, redis, clean, profileDir }) => {
  const rate = Number(options.rate ?? 5000)
  const seconds = Number(options.seconds)
  const latencyRate = Number(options.latencyRate ?? 500)
  const latencySeconds = Number(options.latencySeconds ?? 10)
  const drainTimeout = Number(options.drainTimeout ?? 300)
  const { markets, bundle, fake, topic, db, app, sse } = await setUp({ options, env, redis, clean, profileDir })
  const ctx = { fake, sse, env, topic, db }
  const procs = {
    producer: app.producer,
    processor: app.processor,
    api: app.api,
    fakeVenues: fake.proc,
    sseClient: sse.proc
  }
  const meters = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuSeconds(p.pid)]))
  log(`venues: load, ${rate} trades/s for ${seconds} s`)
  const load = await phase(ctx, { name: "load", rate, seconds, stored: markets.length, drainTimeout, meters })
  let latency
  if (latencyRate > 0) {
    log(`venues: latency, ${latencyRate} trades/s for ${latencySeconds} s`)
    const stored = load.stored + load.ran.sent
    latency = await phase(ctx, { name: "latency", rate: latencyRate, seconds: latencySeconds, stored, drainTimeout })
  }
  const stored = await checkStored(db, { perMarket: merged(load.ran, latency?.ran) }, 1)
  const checkpoints = await checkpointSize(db, topic)
  const dlq = await dlqRecords(env, topic)
  const exits = {}
  for (const [k, p] of Object.entries({ producer: app.producer, processor: app.processor, api: app.api }))
    exits[k] = await p.stop("SIGTERM")
  sse.proc.send({ cmd: "close" })
  fake.proc.send({ cmd: "close" })

  log("venues: baselines on the same trades")
  const drain = await drainBaseline(env, topic)
  const relay =
    latency && (await relayBaseline({ env, redis, clean, topic, rate: latencyRate, since: latency.ran.from }))
  return report({ markets, load, latency, stored, checkpoints, dlq }, { drain, relay, exits, bundle, redis })
}
