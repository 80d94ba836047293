import { spawn } from "node:child_process"
import { Schema } from "effect"
import { Redis } from "ioredis"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import pg from "pg"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import { candleDifferences, referenceCandles, storedCandle } from "../support/Reference.js"

/** The real services; `npm test` starts them with scripts/services.sh and sets these. */
export const services = () => {
  const missing = ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"].filter((n) => !process.env[n])
  if (missing.length > 0) {
    throw new Error(
      `integration suites need real services: ${missing.join(", ")} not set (run \`npm test\`, which starts them)`
    )
  }
  return {
    kafkaBrokers: process.env["KAFKA_BROKERS"]!,
    redisUrl: process.env["REDIS_URL"]!,
    databaseUrl: process.env["DATABASE_URL"]!
  }
}

export const unique = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`

/** A throw-away database on the test server, so runs never see each other's rows. */
export const createDatabase = async (adminUrl: string, name: string) => {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export const query = async <R extends Record<string, unknown>>(
  url: string,
  text: string,
  params: ReadonlyArray<unknown> = []
) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, [...params])).rows
  } finally {
    await client.end()
  }
}

export const kafka = (brokers: string) =>
  new Kafka({ clientId: "integration-test", brokers: brokers.split(","), logLevel: logLevel.NOTHING })

export const createTopic = async (brokers: string, topic: string, partitions = 3) => {
  const admin = kafka(brokers).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

export const publish = async (
  brokers: string,
  topic: string,
  messages: ReadonlyArray<{ key: string; value: string }>
) => {
  const producer = kafka(brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: [...messages] })
  } finally {
    await producer.disconnect()
  }
}

/** Every record now in the topic (reads up to the end offsets the broker reports). */
export const readTopic = async (brokers: string, topic: string) => {
  const k = kafka(brokers)
  const admin = k.admin()
  await admin.connect()
  const ends = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const want = new Map(ends.map((e) => [e.partition, Number(e.high)]))
  const records: Array<{ partition: number; offset: number; key: string | null; value: string }> = []
  if ([...want.values()].every((h) => h === 0)) return records
  const consumer = k.consumer({ groupId: unique("reader") })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const seen = new Map<number, number>()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} did not finish`)), 30_000)
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? ""
        })
        seen.set(partition, Number(message.offset) + 1)
        if ([...want].every(([p, high]) => (seen.get(p) ?? 0) >= high)) {
          clearTimeout(timer)
          resolve()
        }
      }
    })
  })
  await consumer.disconnect()
  return records
}

export const redis = (url: string) => {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  client.on("error", () => undefined) // a later test stops Redis on purpose
  return client
}

// == shared by the fault suites

export const encode = Schema.encodeSync(TickJson)
/** The input's event times start here (a Thursday noon, UTC). */
export const epoch = Date.UTC(2025, 10, 20, 12, 0, 0)

/** `count` ticks per symbol, `spacingMs` apart from tick `offset` on, with trade sizes: a known input for the reference. */
export const feed = (symbols: ReadonlyArray<string>, count: number, offset = 0, spacingMs = 5_000, base = epoch) =>
  symbols.flatMap((symbol, s) =>
    Array.from({ length: count }, (_, k) => {
      const i = k + offset
      return new Tick({
        symbol,
        coinId: symbol.toLowerCase(),
        price: 10 + s + Math.cos(i / 9) + (i % 11) / 100,
        volume: 1 + (i % 3),
        eventTime: base + i * spacingMs + s,
        source: "replay",
        ingestTime: base + i * spacingMs
      })
    })
  )

export const messages = (ticks: ReadonlyArray<Tick>) => ticks.map((t) => ({ key: t.symbol, value: encode(t) }))

/** `scripts/services.sh <args>` for the services of this test run (the ports come from the environment). */
export const servicesSh = (...args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["scripts/services.sh", ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`services.sh ${args.join(" ")}: ${code}\n${err}`))
    )
  })

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A seeded generator (mulberry32): the same seed gives the same kill points. */
export const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Postgres against the accepted input, as a list of differences (empty when they agree). The ticks table is unique on
 * (symbol, event time, source), so it can only show loss (or a tick that was never input); double counting shows in
 * the candles, compared field by field with the tests' own reference (test/support/Reference.ts).
 */
export const recordDifferences = async (databaseUrl: string, ticks: ReadonlyArray<Tick>) => {
  const rows = await query<{ symbol: string; source: string; event_time: Date }>(
    databaseUrl,
    "SELECT symbol, source, event_time FROM ticks"
  )
  const stored = new Set(rows.map((r) => `${r.symbol}|${r.source}|${r.event_time.getTime()}`))
  const input = new Set(ticks.map((t) => `${t.symbol}|${t.source}|${t.eventTime}`))
  const problems = [...input].filter((k) => !stored.has(k)).map((k) => `tick ${k}: lost`)
  problems.push(...[...stored].filter((k) => !input.has(k)).map((k) => `tick ${k}: stored, not in the input`))
  const candles = (await query(databaseUrl, "SELECT * FROM candles")).map(storedCandle)
  problems.push(...candleDifferences(candles, referenceCandles(ticks)))
  return problems
}

/** Waits (bounded) until Postgres equals the reference of `ticks`; fails with the differences still left. */
export const converged = async (databaseUrl: string, ticks: ReadonlyArray<Tick>, what: string, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  let last: ReadonlyArray<string> = ["never compared"]
  while (Date.now() < deadline) {
    last = await recordDifferences(databaseUrl, ticks).catch((e: unknown) => [`query failed: ${String(e)}`])
    if (last.length === 0) return
    await sleep(300)
  }
  throw new Error(`${what}: Postgres differs from the reference (${last.length}):\n${last.slice(0, 12).join("\n")}`)
}
