import { afterAll, describe, expect, it } from "vitest"
import { kafka, publish, readTopic } from "../../support/kafka.mjs"
import { sleep } from "../../support/waiting.mjs"
import { exited, type Rig, rig } from "./rig.js"
import { converged, epoch, feed, messages } from "./support.js"

const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK", "SOL", "ADA"]
const base = epoch + 60 * 86_400_000

const addPartitions = async (brokers: string, topic: string, count: number) => {
  const admin = kafka(brokers).admin()
  await admin.connect()
  try {
    await admin.createPartitions({ topicPartitions: [{ topic, count }] })
  } finally {
    await admin.disconnect()
  }
}

/** Another member joins the group and leaves again: two rebalances, after which the processor is given every partition. */
const joinAndLeave = async (r: Rig) => {
  const consumer = kafka(r.kafkaBrokers).consumer({ groupId: r.base["KAFKA_GROUP_ID"]!, sessionTimeout: 10_000 })
  await consumer.connect()
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
  await consumer.subscribe({ topics: [r.topic], fromBeginning: true })
  await consumer.run({ autoCommit: false, eachBatch: async () => undefined })
  await Promise.race([joined, sleep(60_000)])
  await consumer.disconnect()
}

// Kafka places a key by its hash modulo the partition count, so adding partitions moves keys to partitions that have
// none of their state (the operator state is checkpointed per partition): a new owner would rebuild their open
// candles from nothing and upsert partial values over the full ones. The processor refuses instead.
describe("partition changes on a real Kafka", () => {
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of rigs) await r.cleanup()
  })

  it("partitions added mid-stream: the processor refuses to claim (exit 1, both counts named), no partial candle written", async () => {
    const t = await rig("grow", 3, { LOG_LEVEL: "info" })
    rigs.push(t)
    const processor = await t.start()
    const first = feed(symbols, 30, 0, 5_000, base)
    await publish(t.kafkaBrokers, t.topic, messages(first))
    await converged(t.databaseUrl, first, "the first round")

    // The operator grows the topic; the next round (same 1h and 1d buckets) lands partly on the new partitions.
    await addPartitions(t.kafkaBrokers, t.topic, 6)
    const second = feed(symbols, 30, 30, 5_000, base)
    await publish(t.kafkaBrokers, t.topic, messages(second))
    const landed = await readTopic(t.kafkaBrokers, t.topic)
    const moved = new Set(landed.filter((m) => m.partition >= 3).map((m) => m.key))
    console.log(`after growing to 6 partitions, ${[...moved].join(", ")} moved to the new partitions`)
    expect(moved.size).toBeGreaterThan(0)
    // The symbols that stayed go on as before on the partitions that hold their state.
    const stayed = second.filter((x) => !moved.has(x.symbol))
    await converged(t.databaseUrl, [...first, ...stayed], "the symbols that kept their partition")

    // A rebalance hands out the new partitions: the claim sees 6 partitions where the checkpoints know 3, and stops.
    await joinAndLeave(t)
    const code = await exited(processor, "the processor's refusal")
    console.log(`processor exit ${code}: ${processor.output().match(/topic \S+ has 6 partitions[^"\\]*/)?.[0]}`)
    expect(code, processor.output()).toBe(1)
    expect(processor.output()).toMatch(/has 6 partitions, but its checkpoints were written for 3/)
    expect(processor.output()).toMatch(/Growing the topic/)

    // A restart refuses too: with KAFKA_PARTITIONS still 3 at the topic, and with 6 at the checkpoints.
    for (const [partitions, message] of [
      ["3", /has 6 partitions, not the 3 asked for/],
      ["6", /has 6 partitions, but its checkpoints were written for 3/]
    ] as const) {
      const again = await t.start({ KAFKA_PARTITIONS: partitions })
      expect(await exited(again, `a restart with KAFKA_PARTITIONS=${partitions}`), again.output()).toBe(1)
      expect(again.output()).toMatch(message)
    }
    // Nothing was written for the moved symbols: every candle still equals the reference of what was accepted before.
    await converged(t.databaseUrl, [...first, ...stayed], "after the refusals", 5_000)
  }, 240_000)
})
