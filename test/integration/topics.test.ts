import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Bus } from "../../src/Bus/Bus.js"
import * as KafkaBus from "../../src/Bus/Kafka.js"
import { kafka } from "../../support/kafka.mjs"
import { unique } from "../../support/services.mjs"
import { services } from "./support.js"

// `service` runs the producer and the processor in one process, and each makes sure the topic exists: on a fresh
// topic they create it at once. On a loaded machine the wait for leaders failed now and then ("This server does not
// host this topic-partition") and the service exited 1: the flaky Redis-outage test of session 1, whose saved reports
// showed it. ensureTopic now retries. This test has not reproduced the failure on a quiet machine (it passed without
// the retry too); it holds the contract that concurrent creation succeeds everywhere.
describe("topic creation on a real Kafka", () => {
  const env = services()

  it("four members ensuring one fresh topic at once all succeed, and it has the partitions asked for", async () => {
    for (let round = 0; round < 3; round++) {
      const topic = unique("topic")
      // Two processes with two stages each: the stages of one process share its Bus (one admin client).
      const member = Effect.flatMap(Bus, (bus) => {
        const ensure = Effect.exit(bus.ensureTopic(topic, 3))
        return Effect.all([ensure, ensure], { concurrency: "unbounded" })
      }).pipe(Effect.provide(KafkaBus.layer({ brokers: env.kafkaBrokers.split(",") })))
      const exits = (await Effect.runPromise(Effect.all([member, member], { concurrency: "unbounded" }))).flat()
      expect(
        exits.map((e) => e._tag),
        JSON.stringify(exits.filter((e) => e._tag === "Failure"))
      ).toEqual(Array(4).fill("Success"))
      const admin = kafka(env.kafkaBrokers).admin()
      await admin.connect()
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] })
        expect(meta.topics[0]!.partitions.length).toBe(3)
        await admin.deleteTopics({ topics: [topic] })
      } finally {
        await admin.disconnect()
      }
    }
  }, 120_000)
})
