import { spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { FastCheck as fc, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { foldCandles } from "../../src/Domain/Aggregate.js"
import { intervals } from "../../src/Domain/Interval.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import { eventually, type Running, readEvents, startCli } from "../e2e/support.js"
import { createDatabase, createTopic, kafka, publish, query, readTopic, redis, services, unique } from "./support.js"

const encode = Schema.encodeSync(TickJson)
const epoch = Date.UTC(2025, 10, 20, 12, 0, 0)

/** 3 symbols × 120 ticks, 7 s apart, with trade sizes: a known input for the reference fold. */
const makeTicks = () =>
  ["BTC", "ETH", "SOL"].flatMap((symbol, s) =>
    Array.from(
      { length: 120 },
      (_, i) =>
        new Tick({
          symbol,
          coinId: symbol.toLowerCase(),
          price: (s + 1) * 100 + Math.sin(i / 5) * 10 + i / 10,
          volume: 1 + (i % 7),
          eventTime: epoch + i * 7_000 + s,
          source: "replay",
          ingestTime: epoch + i * 7_000 + 50
        })
    )
  )

// The real chain: kafkajs producer → Kafka → `node dist/main.js processor` → Postgres + Redis.
describe("pipeline on real Kafka, Redis and Postgres", () => {
  const env = services()
  const topic = unique("prices")
  const group = unique("processor")
  let databaseUrl = ""
  let processor: Running | undefined
  const ticks = makeTicks()
  const firstHalf = ticks.filter((_, i) => i % 120 < 60)
  const secondHalf = ticks.filter((_, i) => i % 120 >= 60)

  const startProcessor = () =>
    startCli(["processor"], {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      BATCH_SIZE: "25",
      CHECKPOINT_INTERVAL: "500 millis"
    })

  const storedTicks = async () =>
    Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks"))[0]!.n)

  beforeAll(async () => {
    databaseUrl = await createDatabase(env.databaseUrl, unique("it"))
    await createTopic(env.kafkaBrokers, topic)
  }, 60_000)

  afterAll(async () => {
    if (processor && processor.child.exitCode === null) await processor.stop("SIGKILL")
  })

  it("SIGKILL mid-stream, restart: every tick in Postgres exactly once, candles equal the reference fold", async () => {
    const subscriber = redis(env.redisUrl)
    const published: Array<string> = []
    subscriber.on("message", (_c: string, m: string) => published.push(m))
    await subscriber.subscribe("crypto:updates")

    // First half, with redeliveries of some ticks and two records that are not ticks at all.
    await publish(env.kafkaBrokers, topic, [
      ...firstHalf.map((t) => ({ key: t.symbol, value: encode(t) })),
      ...firstHalf.slice(-15).map((t) => ({ key: t.symbol, value: encode(t) })), // within the lateness: duplicates, not late
      { key: "BTC", value: "{not json" },
      { key: "ETH", value: JSON.stringify({ symbol: "ETH", price: -5 }) }
    ])
    processor = await startProcessor()
    await eventually(
      async () => ((await storedTicks()) >= firstHalf.length ? true : undefined),
      60_000,
      "the first half in Postgres"
    )

    // Crash without warning, publish the rest (and a tick far behind the watermark), start again.
    expect((await processor.stop("SIGKILL")).code).toBe(null)
    await publish(env.kafkaBrokers, topic, [
      ...secondHalf.map((t) => ({ key: t.symbol, value: encode(t) })),
      ...secondHalf.slice(-10).map((t) => ({ key: t.symbol, value: encode(t) })),
      {
        key: "SOL",
        value: encode(new Tick({ ...firstHalf[0]!, symbol: "SOL", coinId: "sol", eventTime: epoch - 3_600_000 }))
      }
    ])
    processor = await startProcessor()
    await eventually(
      async () => ((await storedTicks()) >= ticks.length ? true : undefined),
      60_000,
      "every tick in Postgres"
    )
    // Let the last checkpoint land, then check nothing more arrives.
    await new Promise((r) => setTimeout(r, 1500))

    const rows = await query<{ symbol: string; event_time: Date; n: string }>(
      databaseUrl,
      "SELECT symbol, event_time, count(*) AS n FROM ticks GROUP BY symbol, event_time"
    )
    expect(rows.length).toBe(ticks.length)
    expect(rows.every((r) => r.n === "1")).toBe(true)

    const reference = foldCandles(ticks, intervals)
    const candles = await query<{
      symbol: string
      interval: string
      bucket_start: Date
      open: number
      high: number
      low: number
      close: number
      volume: number
      tick_count: number
      vwap: number
    }>(databaseUrl, "SELECT * FROM candles")
    expect(candles.length).toBe(reference.size)
    for (const c of candles) {
      const ref = reference.get(`${c.symbol}|${c.interval}|${c.bucket_start.getTime()}`)
      expect(ref, `${c.symbol} ${c.interval} ${c.bucket_start.toISOString()}`).toBeDefined()
      expect([c.open, c.high, c.low, c.close, c.tick_count]).toEqual([
        ref!.open,
        ref!.high,
        ref!.low,
        ref!.close,
        ref!.tickCount
      ])
      expect(c.volume).toBeCloseTo(ref!.volume, 9)
      expect(c.vwap).toBeCloseTo(ref!.vwap, 9)
    }

    // The checkpoint covers every partition up to the end of the topic.
    const checkpoints = await query<{ partition: number; next_offset: string }>(
      databaseUrl,
      "SELECT partition, next_offset FROM processor_checkpoints WHERE topic = $1",
      [topic]
    )
    const records = await readTopic(env.kafkaBrokers, topic)
    const ends = new Map<number, number>([
      [0, 0],
      [1, 0],
      [2, 0]
    ])
    for (const r of records) ends.set(r.partition, Math.max(ends.get(r.partition) ?? 0, r.offset + 1))
    expect(Object.fromEntries(checkpoints.map((c) => [c.partition, Number(c.next_offset)]))).toEqual(
      Object.fromEntries(ends)
    )

    // Redis: the newest tick of each symbol, with the TTL; and the live channel carried updates.
    const client = redis(env.redisUrl)
    for (const symbol of ["BTC", "ETH", "SOL"]) {
      const latest = JSON.parse((await client.get(`latest:${symbol}`)) ?? "null") as { eventTime: number }
      const newest = Math.max(...ticks.filter((t) => t.symbol === symbol).map((t) => t.eventTime))
      expect(latest.eventTime).toBe(newest)
      const ttl = await client.ttl(`latest:${symbol}`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(45)
    }
    client.disconnect()
    subscriber.disconnect()
    expect(published.some((m) => m.includes('"_tag":"tick"'))).toBe(true)
    expect(published.some((m) => m.includes('"_tag":"candle"'))).toBe(true)

    // Dead letters: the two undecodable records and the late tick, each with its reason.
    const dead = (await readTopic(env.kafkaBrokers, `${topic}.dlq`)).map(
      (r) => JSON.parse(r.value) as { reason: string }
    )
    expect(dead.filter((d) => d.reason === "decode").length).toBe(2)
    expect(dead.filter((d) => d.reason === "late").length).toBe(1)

    expect((await processor.stop("SIGTERM")).code).toBe(0)
  }, 180_000)
})

const services_sh = (...args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["scripts/services.sh", ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`services.sh ${args.join(" ")}: ${code}\n${err}`))
    )
  })

const json = async <A>(url: string): Promise<{ status: number; headers: Headers; body: A }> => {
  const res = await fetch(url)
  return { status: res.status, headers: res.headers, body: (await res.json()) as A }
}

describe("the CLI on real services", () => {
  const env = services()
  const running: Array<Running> = []

  const start = async (args: ReadonlyArray<string>, extra: Record<string, string>) => {
    const r = await startCli(args, {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      SOURCE: "simulator",
      SIMULATOR_RATE: "4",
      CHECKPOINT_INTERVAL: "500 millis",
      ...extra
    })
    running.push(r)
    return r
  }
  const prices = (url: string) => json<{ prices: Array<{ symbol: string }> }>(`${url}/api/latest`)

  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
    await services_sh("start", "redis").catch(() => undefined)
  })

  it("producer, processor and api as three processes share the work", async () => {
    const isolated = {
      KAFKA_TOPIC: unique("split"),
      KAFKA_GROUP_ID: unique("g"),
      DATABASE_URL: await createDatabase(env.databaseUrl, unique("split"))
    }
    await start(["migrate"], isolated)
    const processor = await start(["processor"], isolated)
    const producer = await start(["producer"], isolated)
    const api = await start(["api"], isolated)
    await eventually(
      async () => ((await prices(api.url)).body.prices.length === 10 ? true : undefined),
      60_000,
      "10 prices through the api process"
    )
    const candles = await eventually(
      async () => {
        const { body } = await json<{ candles: Array<unknown> }>(`${api.url}/api/candles/ETH?interval=1m`)
        return body.candles.length > 0 ? body.candles : undefined
      },
      30_000,
      "ETH candles through the api process"
    )
    expect(candles.length).toBeGreaterThan(0)
    for (const r of [producer, processor, api]) expect((await r.stop("SIGTERM")).code, r.output()).toBe(0)
  }, 150_000)

  // Open bug: in about one run in four, run right after the test above, the service exited with code 1 and printed
  // nothing, shortly after Redis was stopped (seen 2026-11-25; not reproduced by hand); once it never came up at all.
  // Retried once until it is understood; SVC_FAIL_LOG=<path> keeps a failed attempt's report, which the retry hides.
  it("service: /api/latest answers 503 with Retry-After while Redis is down, Postgres writes go on, both recover", async () => {
    await services_sh("start", "redis") // a failed first attempt may have left it stopped
    const databaseUrl = await createDatabase(env.databaseUrl, unique("svc"))
    const svc = await start(["service"], {
      KAFKA_TOPIC: unique("svc"),
      KAFKA_GROUP_ID: unique("g"),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: process.env["SVC_LOG_LEVEL"] ?? "warning"
    })
    await eventually(
      async () => ((await prices(svc.url)).body.prices.length === 10 ? true : undefined),
      60_000,
      "10 prices from the service"
    ).catch((e: unknown) => {
      const report = `${String(e)}\nservice exit code: ${svc.child.exitCode}\nservice output:\n${svc.output()}`
      if (process.env["SVC_FAIL_LOG"]) writeFileSync(`${process.env["SVC_FAIL_LOG"]}-${Date.now()}`, report)
      throw new Error(report)
    })
    const stored = async () =>
      Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks"))[0]!.n)

    const statuses = readEvents(`${svc.url}/api/events`, "status", 2)
    await new Promise((r) => setTimeout(r, 300))
    await services_sh("stop", "redis")
    const stoppedAt = Date.now()
    const down = await eventually(
      async () => {
        const r = await prices(svc.url)
        return r.status === 503 ? r : undefined
      },
      30_000,
      "a 503 from /api/latest"
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nservice exit code: ${svc.child.exitCode}\nservice output:\n${svc.output()}`)
    })
    console.log(`Redis stopped: /api/latest answered 503 after ${Date.now() - stoppedAt} ms`)
    // SSE clients are told: a `status` event with the cache down follows the one they got on connecting.
    const seen = (await statuses).events.map((e) => (e.data as { cache: string }).cache)
    expect(seen).toEqual(["up", "down"])
    expect(down.headers.get("retry-after")).toMatch(/^\d+$/)
    expect((down.body as unknown as { error: string }).error).toMatch(/unavailable/)
    // The durable path does not wait for Redis.
    const before = await stored()
    await eventually(
      async () => ((await stored()) > before + 20 ? true : undefined),
      20_000,
      "ticks still reaching Postgres"
    )
    expect((await fetch(`${svc.url}/health`)).status).toBe(200)

    await services_sh("start", "redis")
    const startedAt = Date.now()
    await eventually(
      async () => ((await prices(svc.url)).status === 200 ? true : undefined),
      30_000,
      "/api/latest back to 200"
    )
    console.log(`Redis started: /api/latest answered 200 again after ${Date.now() - startedAt} ms`)
    expect((await svc.stop("SIGTERM")).code, svc.output()).toBe(0)
  }, 150_000)
})

describe("processor faults on real services", () => {
  const env = services()
  const running: Array<Running> = []
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
    await services_sh("start", "postgres").catch(() => undefined)
  })

  const setup = async (name: string) => {
    const topic = unique(name)
    const databaseUrl = await createDatabase(env.databaseUrl, unique(name))
    await createTopic(env.kafkaBrokers, topic)
    const processorEnv = {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: unique("g"),
      BATCH_SIZE: "20",
      CHECKPOINT_INTERVAL: "300 millis"
    }
    const startProcessor = async () => {
      const r = await startCli(["processor"], processorEnv)
      running.push(r)
      return r
    }
    const stored = async () =>
      Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks"))[0]!.n)
    /** Every tick once, and every candle equal to the reference fold of `ticks`. */
    const verify = async (ticks: ReadonlyArray<Tick>) => {
      await eventually(
        async () => ((await stored()) >= ticks.length ? true : undefined),
        90_000,
        `${ticks.length} ticks in Postgres`
      )
      const rows = await query<{ n: string }>(
        databaseUrl,
        "SELECT count(*) AS n FROM ticks GROUP BY symbol, event_time, source"
      )
      expect(rows.length).toBe(ticks.length)
      expect(rows.every((r) => r.n === "1")).toBe(true)
      const reference = foldCandles(ticks, intervals)
      await eventually(
        async () => {
          const candles = await query<{
            symbol: string
            interval: string
            bucket_start: Date
            close: number
            tick_count: number
          }>(databaseUrl, "SELECT * FROM candles")
          const ok =
            candles.length === reference.size &&
            candles.every((c) => {
              const ref = reference.get(`${c.symbol}|${c.interval}|${c.bucket_start.getTime()}`)
              return ref !== undefined && ref.tickCount === c.tick_count && ref.close === c.close
            })
          return ok ? true : undefined
        },
        30_000,
        "candles equal to the reference fold"
      )
    }
    return { topic, databaseUrl, startProcessor, stored, verify }
  }

  const feed = (symbols: ReadonlyArray<string>, count: number, offset = 0) =>
    symbols.flatMap((symbol, s) =>
      Array.from({ length: count }, (_, k) => {
        const i = k + offset
        return new Tick({
          symbol,
          coinId: symbol.toLowerCase(),
          price: 10 + s + Math.cos(i / 9),
          volume: 1 + (i % 3),
          eventTime: epoch + i * 5_000,
          source: "replay",
          ingestTime: epoch + i * 5_000
        })
      })
    )

  it("three processors in one group share the partitions; SIGKILL one and the others resume its partitions from the checkpoint", async () => {
    const t = await setup("scale")
    const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK"] // murmur2 spreads these over partitions 0, 1 and 2
    // All three start at once on a fresh database: they race to migrate it, and to claim partitions.
    const members = await Promise.all([t.startProcessor(), t.startProcessor(), t.startProcessor()])
    let killedAt = 0
    const all: Array<Tick> = []
    for (let round = 0; round < 12; round++) {
      const ticks = feed(symbols, 10, round * 10)
      all.push(...ticks)
      await publish(
        env.kafkaBrokers,
        t.topic,
        ticks.map((x) => ({ key: x.symbol, value: encode(x) }))
      )
      if (round === 5) {
        await eventually(async () => ((await t.stored()) > 0 ? true : undefined), 60_000, "a first checkpoint")
        expect((await members[0]!.stop("SIGKILL")).code).toBe(null)
        killedAt = Date.now()
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    await t.verify(all)
    console.log(`group member SIGKILLed: all ${all.length} ticks checkpointed ${Date.now() - killedAt} ms later`)
    // Every claim bumps the epoch: partitions that changed hands show it.
    const epochs = await query<{ partition: number; epoch: string; owner: string }>(
      t.databaseUrl,
      "SELECT partition, epoch, owner FROM processor_checkpoints"
    )
    expect(epochs.length).toBe(3)
    expect(epochs.some((e) => Number(e.epoch) > 1)).toBe(true)
    for (const m of members.slice(1)) expect((await m.stop("SIGTERM")).code, m.output()).toBe(0)
  }, 240_000)

  it("Kafka broker restart and a SIGTERM of the processor while the producer publishes: nothing lost or doubled", async () => {
    const t = await setup("kafka")
    const producerEnv = {
      KAFKA_BROKERS: env.kafkaBrokers,
      KAFKA_TOPIC: t.topic,
      SOURCE: "simulator",
      SIMULATOR_RATE: "5",
      COINS: "bitcoin,ethereum,ripple,cardano"
    }
    const producer = await startCli(["producer"], producerEnv)
    running.push(producer)
    let processor = await t.startProcessor()
    await eventually(async () => ((await t.stored()) > 40 ? true : undefined), 60_000, "ticks flowing")

    await services_sh("restart", "kafka")
    const back = Date.now()
    const before = await t.stored()
    await eventually(
      async () => ((await t.stored()) > before + 20 ? true : undefined),
      90_000,
      "ticks flowing after the broker restart"
    )
    console.log(`recovery after a Kafka restart: ${Date.now() - back} ms until new ticks reached Postgres`)

    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
    processor = await t.startProcessor()
    const after = await t.stored()
    await eventually(
      async () => ((await t.stored()) > after + 20 ? true : undefined),
      60_000,
      "ticks flowing after the processor restart"
    )
    expect((await producer.stop("SIGTERM")).code, producer.output()).toBe(0)

    // What the producer got into the topic is the input; Postgres must hold each tick of it exactly once.
    const published = (await readTopic(env.kafkaBrokers, t.topic)).map((r) =>
      Schema.decodeUnknownSync(TickJson)(r.value)
    )
    const unique = [...new Map(published.map((x) => [`${x.symbol}|${x.eventTime}`, x])).values()]
    await t.verify(unique)
    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
  }, 300_000)

  it("Postgres down: the fast path stays live, consumption resumes when it is back, nothing lost or doubled", async () => {
    const t = await setup("pgdown")
    const processor = await t.startProcessor()
    const first = feed(["ETH", "SOL"], 30)
    await publish(
      env.kafkaBrokers,
      t.topic,
      first.map((x) => ({ key: x.symbol, value: encode(x) }))
    )
    await eventually(
      async () => ((await t.stored()) >= first.length ? true : undefined),
      60_000,
      "the first ticks in Postgres"
    )

    await services_sh("stop", "postgres")
    const second = feed(["ETH", "SOL"], 30, 30)
    await publish(
      env.kafkaBrokers,
      t.topic,
      second.map((x) => ({ key: x.symbol, value: encode(x) }))
    )
    // Redis gets the newest tick although no checkpoint can commit.
    const client = redis(env.redisUrl)
    const newest = Math.max(...second.map((x) => x.eventTime))
    await eventually(
      async () => {
        const latest = JSON.parse((await client.get("latest:ETH")) ?? "null") as { eventTime: number } | null
        return latest?.eventTime === newest ? true : undefined
      },
      30_000,
      "the newest ETH tick in Redis while Postgres is down"
    )
    client.disconnect()

    await services_sh("start", "postgres")
    const pgBack = Date.now()
    await t.verify([...first, ...second])
    console.log(`Postgres started: every tick checkpointed ${Date.now() - pgBack} ms later`)
    expect(processor.output()).toMatch(/checkpoint failed, retrying/)
    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
  }, 240_000)
})

describe("bad input on real Kafka", () => {
  const env = services()
  let processor: Running | undefined
  afterAll(async () => {
    if (processor && processor.child.exitCode === null) await processor.stop("SIGKILL")
  })

  it("fuzzed records: each one ends in Postgres or in the DLQ with a reason; the processor never dies", async () => {
    const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
    console.log("fuzz seed", seed)
    const now = Date.now()
    const good = (i: number) =>
      new Tick({
        symbol: `FZ${i % 4}`,
        coinId: "fuzz",
        price: 1 + i,
        eventTime: now - 60_000 + i * 10,
        source: "replay",
        ingestTime: now
      })
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.string().map((s) => Buffer.from(s)),
      fc
        .constantFrom(
          '{"symbol":"BTC","price":NaN}',
          "null",
          "[]",
          "{}",
          '{"symbol":"BTC","coinId":"b","price":1e400,"eventTime":1,"source":"replay","ingestTime":1}',
          '{"symbol":"BTC","coinId":"b","price":-5,"eventTime":1,"source":"replay","ingestTime":1}',
          '{"symbol":"btc lower","coinId":"b","price":5,"eventTime":1,"source":"replay","ingestTime":1}'
        )
        .map((s) => Buffer.from(s)),
      fc.constant(Buffer.alloc(900_000, "x"))
    )
    const cases = fc.sample(
      fc.array(
        fc.oneof(
          junk.map((value) => ({ kind: "junk" as const, value })),
          fc.nat(1000).map((i) => ({ kind: "good" as const, value: Buffer.from(encode(good(i))) }))
        ),
        { minLength: 60, maxLength: 60 }
      ),
      { seed, numRuns: 1 }
    )[0]!
    // Ticks from the far future, and from long ago after newer ones (late).
    const future = new Tick({ ...good(1), eventTime: now + 30 * 86_400_000 })
    const ancient = new Tick({ ...good(2), eventTime: 86_400_000 })
    const records = [
      ...cases,
      { kind: "future" as const, value: Buffer.from(encode(future)) },
      { kind: "late" as const, value: Buffer.from(encode(ancient)) }
    ]

    const topic = unique("fuzz")
    const databaseUrl = await createDatabase(env.databaseUrl, unique("fuzz"))
    await createTopic(env.kafkaBrokers, topic, 1)
    const producer = kafka(env.kafkaBrokers).producer()
    await producer.connect()
    for (const r of records) await producer.send({ topic, acks: -1, messages: [{ key: "k", value: r.value }] })
    await producer.disconnect()

    processor = await startCli(["processor"], {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: unique("g"),
      KAFKA_PARTITIONS: "1",
      CHECKPOINT_INTERVAL: "300 millis"
    })
    await eventually(
      async () => {
        const rows = await query<{ next_offset: string }>(
          databaseUrl,
          "SELECT next_offset FROM processor_checkpoints WHERE topic = $1",
          [topic]
        )
        return rows[0] !== undefined && Number(rows[0].next_offset) === records.length ? true : undefined
      },
      90_000,
      "the checkpoint at the end of the topic"
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nprocessor output:\n${processor?.output()}`)
    })
    expect(processor.child.exitCode).toBe(null)

    const dead = new Map(
      (await readTopic(env.kafkaBrokers, `${topic}.dlq`)).map((r) => {
        const d = JSON.parse(r.value) as {
          reason: string
          offset: number
          value?: string
          valueBase64?: string
          truncated?: boolean
        }
        return [d.offset, d] as const
      })
    )
    const stored = new Set(
      (await query<{ symbol: string; event_time: Date }>(databaseUrl, "SELECT symbol, event_time FROM ticks")).map(
        (r) => `${r.symbol}|${r.event_time.getTime()}`
      )
    )
    records.forEach((r, offset) => {
      if (r.kind === "good") {
        const t = JSON.parse(r.value.toString()) as { symbol: string; eventTime: number }
        expect(stored.has(`${t.symbol}|${t.eventTime}`), `offset ${offset} in Postgres`).toBe(true)
      } else {
        expect(dead.get(offset)?.reason, `offset ${offset} (${r.kind}) in the DLQ`).toBe(
          r.kind === "junk" ? "decode" : r.kind
        )
      }
    })
    expect([...dead.values()].some((d) => d.truncated === true)).toBe(cases.some((c) => c.value.length > 256 * 1024))
    expect((await processor.stop("SIGTERM")).code).toBe(0)
  }, 180_000)
})

describe("backfill on real Kafka", () => {
  const env = services()
  it("backfill publishes recorded history (with progress) and the processor turns it into candles", async () => {
    const chart = readFileSync(new URL("../fixtures/coingecko/market_chart/bitcoin.json", import.meta.url), "utf8")
    const history = JSON.parse(chart) as { prices: Array<[number, number]> }
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname
      res.writeHead(path.endsWith("/coins/bitcoin/market_chart") ? 200 : path.endsWith("/coins/markets") ? 200 : 404, {
        "content-type": "application/json"
      })
      res.end(path.endsWith("/coins/bitcoin/market_chart") ? chart : path.endsWith("/coins/markets") ? "[]" : "{}")
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    const address = server.address()
    const base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/api/v3`
    const topic = unique("backfill")
    const databaseUrl = await createDatabase(env.databaseUrl, unique("backfill"))
    await createTopic(env.kafkaBrokers, topic)
    const common = {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC: topic,
      COINGECKO_BASE_URL: base
    }

    const backfill = await startCli(["backfill", "--coins", "bitcoin", "--days", "30"], common)
    const done = await backfill.stop("SIGCONT") // not a stop: waits for it to finish by itself
    server.close()
    expect(done.code, backfill.output()).toBe(0)
    expect(backfill.output()).toMatch(/25/) // the progress and summary lines count the ticks

    const processor = await startCli(["processor"], {
      ...common,
      KAFKA_GROUP_ID: unique("g"),
      CHECKPOINT_INTERVAL: "300 millis"
    })
    await eventually(
      async () => {
        const n = Number(
          (await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks WHERE symbol = 'BTC'"))[0]?.n ?? 0
        )
        return n === history.prices.length ? true : undefined
      },
      60_000,
      "the backfilled ticks in Postgres"
    )
    const daily = await query<{ n: string }>(
      databaseUrl,
      "SELECT count(*) AS n FROM candles WHERE symbol = 'BTC' AND interval = '1d'"
    )
    const days = new Set(history.prices.map(([t]) => Math.floor(t / 86_400_000))).size
    expect(Number(daily[0]!.n)).toBe(days)
    expect((await processor.stop("SIGTERM")).code).toBe(0)
  }, 180_000)
})
