import { Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { TickJson } from "../../src/Domain/Tick.js"
import { publish, readTopic } from "../../support/kafka.mjs"
import { redis } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"
import { type Rig, rig } from "./rig.js"
import { converged, feed, messages, services, servicesSh } from "./support.js"

// Service outages with a controlled stop (SIGTERM, pg_ctl -m fast); crashes of the services are in crashes.test.ts.
describe("processor and service outages on real services", () => {
  const env = services()
  const running: Array<Running> = []
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
    for (const r of rigs) await r.cleanup()
    await servicesSh("start", "postgres").catch(() => undefined)
    await servicesSh("start", "kafka").catch(() => undefined)
  })

  it("Kafka broker restart and a SIGTERM of the processor while the producer publishes: nothing lost or doubled", async () => {
    const t = await rig("kafka")
    rigs.push(t)
    const producerEnv = {
      KAFKA_BROKERS: env.kafkaBrokers,
      KAFKA_TOPIC: t.topic,
      SOURCE: "simulator",
      SIMULATOR_RATE: "5",
      COINS: "bitcoin,ethereum,ripple,cardano"
    }
    const producer = await startCli(["producer"], producerEnv)
    running.push(producer)
    let processor = await t.start()
    await eventually(async () => ((await t.stored()) > 40 ? true : undefined), 150_000, "ticks flowing")

    await servicesSh("restart", "kafka")
    const back = Date.now()
    const before = await t.stored()
    await eventually(
      async () => ((await t.stored()) > before + 20 ? true : undefined),
      90_000,
      "ticks flowing after the broker restart"
    )
    console.log(`recovery after a Kafka restart: ${Date.now() - back} ms until new ticks reached Postgres`)

    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
    processor = await t.start()
    const after = await t.stored()
    await eventually(
      async () => ((await t.stored()) > after + 20 ? true : undefined),
      150_000,
      "ticks flowing after the processor restart"
    )
    expect((await producer.stop("SIGTERM")).code, producer.output()).toBe(0)

    // What the producer got into the topic is the input; Postgres must hold each tick of it exactly once.
    const published = (await readTopic(env.kafkaBrokers, t.topic)).map((r) =>
      Schema.decodeUnknownSync(TickJson)(r.value)
    )
    const accepted = [...new Map(published.map((x) => [`${x.symbol}|${x.eventTime}`, x])).values()]
    await converged(t.databaseUrl, accepted, "after the broker restart and the processor's SIGTERM")
    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
  }, 420_000)

  it("Postgres down: the fast path stays live, consumption resumes when it is back, nothing lost or doubled", async () => {
    const t = await rig("pgdown")
    rigs.push(t)
    const processor = await t.start()
    const first = feed(["ETH", "SOL"], 30)
    await publish(env.kafkaBrokers, t.topic, messages(first))
    await eventually(
      async () => ((await t.stored()) >= first.length ? true : undefined),
      150_000,
      "the first ticks in Postgres"
    )

    await servicesSh("stop", "postgres")
    const second = feed(["ETH", "SOL"], 30, 30)
    await publish(env.kafkaBrokers, t.topic, messages(second))
    // Redis gets the newest tick although no checkpoint can commit.
    const client = redis(env.redisUrl)
    const newest = Math.max(...second.filter((x) => x.symbol === "ETH").map((x) => x.eventTime))
    await eventually(
      async () => {
        const latest = JSON.parse((await client.get("latest:coingecko:ETH-USD")) ?? "null") as {
          eventTime: number
        } | null
        return latest?.eventTime === newest ? true : undefined
      },
      30_000,
      "the newest ETH tick in Redis while Postgres is down"
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nprocessor output:\n${processor.output().slice(-5000)}`)
    })
    client.disconnect()

    await servicesSh("start", "postgres")
    const pgBack = Date.now()
    await converged(t.databaseUrl, [...first, ...second], "after Postgres came back")
    console.log(`Postgres started: every tick checkpointed ${Date.now() - pgBack} ms later`)
    expect(processor.output()).toMatch(/checkpoint failed, retrying/)
    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
  }, 240_000)
})
