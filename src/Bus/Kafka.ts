import { Effect, Layer, Runtime, Schedule } from "effect"
import { type Admin, type Consumer, Kafka, logLevel, Partitioners, type Producer } from "kafkajs"
import { Bus, partitionsDiffer } from "./Bus.js"
import { consume as consumeWith, toBusError } from "./KafkaConsumer.js"

export interface KafkaOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId?: string
}

/** The kafkajs client; it logs through Effect's logger (`runtime`'s). */
const client = (options: KafkaOptions, runtime: Runtime.Runtime<never>) => {
  const log = Runtime.runFork(runtime)
  const recent = new Map<string, number>()
  return new Kafka({
    clientId: options.clientId ?? "crypto-pipeline",
    brokers: [...options.brokers],
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 300, retries: 5 },
    // kafkajs logs through Effect's logger: warnings and errors only, and the same line at most every 10 s
    // (while a broker is down it repeats itself on every retry).
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const text = `kafkajs: ${entry.message}`
        // Two stages creating the same topic at once: the loser's "already exists" is expected.
        if (typeof entry.error === "string" && entry.error.includes("already exists")) return
        const now = Date.now()
        if ((recent.get(text) ?? 0) > now - 10_000) return
        recent.set(text, now)
        if (recent.size > 100) recent.clear()
        log(level <= logLevel.ERROR ? Effect.logError(text) : Effect.logWarning(text))
      }
  })
}

/** Creates a missing topic; an existing one with another partition count is refused (keys would lose their state). */
const ensureTopicWith = (admin: Admin) => (topic: string, partitions: number) =>
  Effect.tryPromise({
    try: async () => {
      const existing = await admin.listTopics()
      if (!existing.includes(topic)) {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
        return partitions
      }
      return (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? partitions
    },
    catch: toBusError("admin", `could not create topic ${topic}`)
  }).pipe(
    // Two stages (or processes) creating one topic at once: the loser's wait for leaders can fail with "This server
    // does not host this topic-partition" while the topic is still being set up. A second look finds it.
    Effect.tapError((e) => Effect.logDebug(`${e.message}; retrying`)),
    Effect.retry({ schedule: Schedule.exponential("250 millis"), times: 6 }),
    Effect.flatMap((actual) =>
      actual === partitions ? Effect.void : Effect.fail(partitionsDiffer(topic, actual, partitions))
    )
  )

/**
 * The bus on a real Kafka cluster, with kafkajs. Records are read with auto-commit off: the processor keeps its
 * offsets in Postgres and seeks to them when partitions are assigned; `commitOffsets` only feeds lag monitoring.
 */
export const make = (options: KafkaOptions) =>
  Effect.gen(function* () {
    const kafka = client(options, yield* Effect.runtime<never>())

    const admin = kafka.admin()
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => admin.connect(),
        catch: toBusError("connect", `Kafka at ${options.brokers.join(",")} is not reachable`)
      }),
      () => Effect.promise(() => admin.disconnect()).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    )
    const producer: Producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false
    })
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => producer.connect(),
        catch: toBusError("connect", "Kafka producer could not connect")
      }),
      () => Effect.promise(() => producer.disconnect()).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    )
    // The running consumer of each group, for committing its offsets.
    const consumers = new Map<string, Consumer>()

    const ensureTopic = ensureTopicWith(admin)

    const publish = (topic: string, messages: ReadonlyArray<{ readonly key: string; readonly value: string }>) =>
      Effect.tryPromise({
        // acks = -1: every in-sync replica has the batch before it counts as published.
        try: () =>
          producer.send({
            topic,
            acks: -1,
            timeout: 10_000,
            messages: messages.map((m) => ({ key: m.key, value: m.value }))
          }),
        catch: toBusError("publish", `publish to ${topic} failed`)
      }).pipe(Effect.asVoid)

    const consume = consumeWith(kafka, consumers)

    const commitOffsets: Bus["Type"]["commitOffsets"] = (topic, groupId, offsets) =>
      Effect.suspend(() => {
        const consumer = consumers.get(groupId)
        if (consumer === undefined || offsets.length === 0) return Effect.void
        return Effect.tryPromise({
          try: () =>
            consumer.commitOffsets(offsets.map((o) => ({ topic, partition: o.partition, offset: String(o.offset) }))),
          catch: toBusError("consume", "offset commit failed")
        })
      })

    const endOffsets = (topic: string) =>
      Effect.tryPromise({
        try: () => admin.fetchTopicOffsets(topic),
        catch: toBusError("admin", `could not read the offsets of ${topic}`)
      }).pipe(Effect.map((rows) => new Map(rows.map((r) => [r.partition, Number(r.high)] as const))))

    return Bus.of({ kind: "kafka", ensureTopic, publish, consume, commitOffsets, endOffsets })
  })

export const layer = (options: KafkaOptions) => Layer.scoped(Bus, make(options))
