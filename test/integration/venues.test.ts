import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createDatabase, query, unique } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"
import * as S from "../e2e/venueScenario.js"
import { testPort } from "../support/Ports.js"
import { candleDifferences, storedCandle } from "../support/Reference.js"
import { services } from "./support.js"

// Issue 15's "Done when" on real Kafka, Redis and Postgres: `producer` (SOURCE=binance,coinbase,kraken against three
// fake venues) and `processor` as two built-CLI processes. After the seeded schedule of disconnects and gaps: each
// market's stored trade ids are exactly the fakes' (each once), every 1m candle is the reference fold over the fakes'
// trades, every range of ids no one has is a row of `gaps`, and the producer's /ready shows each venue connection up.
// Halfway, the producer is killed and restarted: it goes on where the topic left off, filling what it missed.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

describe("SOURCE=binance,coinbase,kraken on real services (producer and processor, built dist/main.js)", () => {
  const env = services()
  let fakes: S.Fakes
  let databaseUrl: string
  const running: Array<Running> = []

  beforeAll(async () => {
    fakes = await S.startFakes()
    databaseUrl = await createDatabase(env.databaseUrl, unique("venues"))
  }, 30_000)

  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL").catch(() => undefined)
    await fakes?.close()
  })

  const idsOf = async (market: string) =>
    (
      await query<{ trade_id: string }>(
        databaseUrl,
        "SELECT trade_id FROM ticks WHERE market = $1 ORDER BY trade_id, event_time",
        [market]
      )
    ).map((r) => Number(r.trade_id))

  it("every trade the fakes made is stored once, every 1m candle is the reference, unfilled gaps are rows", async () => {
    const shared = {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC: unique("venues"),
      KAFKA_GROUP_ID: unique("g"),
      CHECKPOINT_INTERVAL: "500 millis"
    }
    const migrate = await startCli(["migrate"], shared)
    running.push(migrate)
    await eventually(() => (migrate.child.exitCode === null ? undefined : true), 60_000, "migrate")
    expect(migrate.child.exitCode, migrate.output()).toBe(0)
    const processor = await startCli(["processor"], shared)
    const statusPort = String(await testPort())
    const producerEnv = { ...shared, ...S.venueEnv(fakes), STATUS_PORT: statusPort }
    const first = await startCli(["producer"], producerEnv)
    running.push(processor, first)
    let producer = first

    await S.warmUp(fakes).catch((e: unknown) => {
      throw new Error(`${String(e)}\nproducer (exit ${producer.child.exitCode}):\n${producer.output().slice(-3000)}`)
    })
    const steps = S.schedule(seed, fakes, 80)
    console.log(`schedule: ${S.describeSchedule(steps)}`)
    await S.play(fakes, steps.slice(0, steps.length / 2))
    // Killed mid-run: the trades made while it is away are on REST only. Restarted, it reads where the topic left off
    // and fills them (without that, they would be missing below).
    await first.stop("SIGKILL")
    for (const m of fakes.markets) fakes.venues.get(m.split(":")[0] as "binance")?.send(m, 5)
    producer = await startCli(["producer"], producerEnv)
    running.push(producer)
    await S.play(fakes, steps.slice(steps.length / 2))
    await S.finish(fakes)

    const problems = async () => {
      const out: Array<string> = []
      for (const m of fakes.markets) {
        const stored = await idsOf(m)
        const truth = S.tradeIdsOf(fakes, m)
        if (JSON.stringify(stored) !== JSON.stringify(truth))
          out.push(`${m}: ${stored.length} trades stored, the fake served ${truth.length}`)
      }
      const rows = await query<Record<string, unknown>>(
        databaseUrl,
        "SELECT market, interval, bucket_start, open, high, low, close, volume, tick_count, vwap FROM candles WHERE interval = '1m'"
      )
      const stored = rows.map((r) => ({ ...storedCandle(r), symbol: String(r["market"]) }))
      return [...out, ...candleDifferences(stored, S.referenceOf(fakes))]
    }
    await eventually(async () => ((await problems()).length === 0 ? true : undefined), 120_000, "the record").catch(
      async (e: unknown) => {
        throw new Error(
          `${String(e)}\n${(await problems()).slice(0, 20).join("\n")}\n${producer.output().slice(-3000)}`
        )
      }
    )
    const trades = fakes.markets.reduce((n, m) => n + S.tradeIdsOf(fakes, m).length, 0)
    const lost = fakes.markets.reduce((n, m) => n + S.lostRanges(fakes, m).length, 0)
    console.log(
      `${trades} trades, ${lost} unfillable gaps, a producer killed and restarted: all stored as the fakes made them`
    )
    for (const m of fakes.markets) {
      const gaps = await query<{ from_id: string; to_id: string }>(
        databaseUrl,
        "SELECT from_id, to_id FROM gaps WHERE market = $1 ORDER BY from_id",
        [m]
      )
      expect(
        gaps.map((g) => [Number(g.from_id), Number(g.to_id)]),
        m
      ).toEqual(S.lostRanges(fakes, m))
    }
    const ready = (await (await fetch(`http://127.0.0.1:${statusPort}/ready`)).json()) as {
      dependencies: Record<string, { state: string }>
    }
    for (const v of S.venueNames) expect(ready.dependencies[`venue:${v}`]?.state, v).toBe("up")
    for (const r of [producer, processor]) expect((await r.stop("SIGTERM")).code, r.output()).toBe(0)
  }, 240_000)
})
