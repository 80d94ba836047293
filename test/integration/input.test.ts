import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { FastCheck as fc, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import { createTopic, kafka, readTopic } from "../../support/kafka.mjs"
import { createDatabase, query, unique } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"
import { encode, recordDifferences, services } from "./support.js"

/** 60 records of good ticks and junk (from `seed`), then a tick from the far future and a late one. */
const fuzzInput = (seed: number, now: number) => {
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
  return { cases, records }
}

describe("bad input on real Kafka", () => {
  const env = services()
  let processor: Running | undefined
  afterAll(async () => {
    if (processor && processor.child.exitCode === null) await processor.stop("SIGKILL")
  })

  it("fuzzed records: each in Postgres or in the DLQ with its reason, every candle field equal to the reference, no crash", async () => {
    const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
    console.log("fuzz seed", seed)
    const now = Date.now()
    const { cases, records } = fuzzInput(seed, now)

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
    // The good records, each once (the input repeats some): every candle field equals the reference of them.
    const accepted = new Map(
      cases
        .filter((c) => c.kind === "good")
        .map((c) => Schema.decodeUnknownSync(TickJson)(c.value.toString()))
        .map((t) => [`${t.symbol}|${t.eventTime}`, t] as const)
    )
    expect(await recordDifferences(databaseUrl, [...accepted.values()])).toEqual([])
    expect((await processor.stop("SIGTERM")).code).toBe(0)
  }, 180_000)
})

describe("backfill on real Kafka", () => {
  const env = services()
  it("backfill publishes recorded history (with progress); its candles equal the reference fold of the stored ticks", async () => {
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
    // The candles against the reference fold of the stored ticks (the count above shows none lost; this shows none
    // counted twice).
    const stored = await query<{
      symbol: string
      source: string
      event_time: Date
      price: number
      volume: number | null
    }>(databaseUrl, "SELECT symbol, source, event_time, price, volume FROM ticks")
    const ticks = stored.map(
      (r) =>
        new Tick({
          symbol: r.symbol,
          coinId: "bitcoin",
          price: r.price,
          ...(r.volume === null ? {} : { volume: r.volume }),
          eventTime: r.event_time.getTime(),
          source: r.source as Tick["source"],
          ingestTime: 0
        })
    )
    expect(await recordDifferences(databaseUrl, ticks)).toEqual([])
    expect((await processor.stop("SIGTERM")).code).toBe(0)
  }, 180_000)
})
