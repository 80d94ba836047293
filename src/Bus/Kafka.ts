import { Effect, Layer, Runtime, Schedule, Stream } from "effect"
import { type Consumer, type EachBatchPayload, Kafka, logLevel, Partitioners, type Producer } from "kafkajs"
import { Bus, BusError, type BusRecord, type ConsumerEvent, partitionsDiffer } from "./Bus.js"

export interface KafkaOptions {
  readonly brokers: ReadonlyArray<string>
  readonly clientId?: string
}

const toBusError = (reason: BusError["reason"], what: string) => (cause: unknown) =>
  new BusError({ reason, message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/** Resolves `promise`, sending consumer heartbeats while it waits, so a full buffer downstream never costs the group membership. */
const withHeartbeats = async <A>(promise: Promise<A>, heartbeat: () => Promise<void>): Promise<A> => {
  let done = false
  const result = promise.finally(() => (done = true))
  while (!done) {
    await Promise.race([result, new Promise((r) => setTimeout(r, 2_000))])
    if (!done) await heartbeat().catch(() => undefined)
  }
  return result
}

/**
 * The bus on a real Kafka cluster, with kafkajs. Records are read with auto-commit off: the processor keeps its
 * offsets in Postgres and seeks to them when partitions are assigned; `commitOffsets` only feeds lag monitoring.
 */
export const make = (options: KafkaOptions) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const log = Runtime.runFork(runtime)
    const recent = new Map<string, number>()
    const kafka = new Kafka({
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

    const ensureTopic = (topic: string, partitions: number) =>
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

    const consume: Bus["Type"]["consume"] = (opts) =>
      Stream.asyncScoped<ConsumerEvent, BusError | Effect.Effect.Error<ReturnType<typeof opts.onAssign>>>(
        (emit) =>
          Effect.gen(function* () {
            const run = Runtime.runPromise(yield* Effect.runtime<never>())
            const consumer = kafka.consumer({
              groupId: opts.groupId,
              // A killed member holds its partitions until this expires: it bounds recovery after a crash.
              sessionTimeout: 10_000,
              heartbeatInterval: 1_000,
              allowAutoTopicCreation: false,
              retry: { initialRetryTime: 300, retries: 8 }
            })
            yield* Effect.acquireRelease(
              Effect.tryPromise({
                try: () => consumer.connect(),
                catch: toBusError("connect", "Kafka consumer could not connect")
              }),
              // disconnect can hang in a rebalance (kafkajs#1462): bounded.
              () => Effect.promise(() => consumer.disconnect()).pipe(Effect.timeout("10 seconds"), Effect.ignore)
            )
            consumers.set(opts.groupId, consumer)
            yield* Effect.addFinalizer(() => Effect.sync(() => consumers.delete(opts.groupId)))

            // kafkajs stops for good after a crash it won't restart from; fail the stream so the caller's retry reconnects.
            consumer.on(consumer.events.CRASH, (e) => {
              if (!e.payload.restart) void emit.fail(toBusError("crashed", "Kafka consumer crashed")(e.payload.error))
            })

            // Each (re)join: revoke what we lost, load checkpoints for what we got, seek there, then let batches through.
            let assigned = new Set<number>()
            let memberId: string | undefined
            let ready: Promise<void> = Promise.resolve()
            consumer.on(consumer.events.GROUP_JOIN, (e) => {
              const next = new Set(e.payload.memberAssignment[opts.topic] ?? [])
              // A new member id: the group expelled us (a session that expired while we were stopped or cut off) and
              // went on without us, so another member may have claimed any of our partitions meanwhile, even those
              // given back to us now. Those are claimed afresh too: the claim replaces their stale state and work.
              const expelled = memberId !== undefined && memberId !== e.payload.memberId
              memberId = e.payload.memberId
              const revoked = [...assigned].filter((p) => !next.has(p))
              const gained = [...next].filter((p) => expelled || !assigned.has(p))
              assigned = next
              ready = ready
                .then(async () => {
                  if (revoked.length > 0) await emit.single({ _tag: "Revoked", partitions: revoked })
                  if (gained.length === 0) return
                  const offsets = await run(opts.onAssign(gained))
                  for (const p of gained) {
                    const offset = offsets.get(p)
                    if (offset !== undefined) consumer.seek({ topic: opts.topic, partition: p, offset: String(offset) })
                  }
                  await emit.single({ _tag: "Assigned", partitions: gained })
                })
                .catch((cause: unknown) => {
                  void emit.fail(toBusError("consume", "partition assignment failed")(cause))
                })
            })

            yield* Effect.tryPromise({
              try: () => consumer.subscribe({ topics: [opts.topic], fromBeginning: true }),
              catch: toBusError("consume", `could not subscribe to ${opts.topic}`)
            })
            yield* Effect.tryPromise({
              try: () =>
                consumer.run({
                  autoCommit: false,
                  partitionsConsumedConcurrently: 1,
                  eachBatch: async ({ batch, heartbeat, isRunning, isStale }: EachBatchPayload) => {
                    await ready
                    if (!isRunning() || isStale() || !assigned.has(batch.partition)) return
                    const records: Array<BusRecord> = batch.messages.map((m) => {
                      const value = m.value === null ? "" : m.value.toString("utf8")
                      // Invalid UTF-8 decodes to U+FFFD, so only a text holding one can differ from its bytes; compared
                      // byte for byte (a truncated 4-byte sequence becomes one U+FFFD of the same length).
                      const lossy =
                        m.value !== null && value.includes("\uFFFD") && !Buffer.from(value, "utf8").equals(m.value)
                      const record: BusRecord = {
                        topic: batch.topic,
                        partition: batch.partition,
                        offset: Number(m.offset),
                        key: m.key === null ? null : m.key.toString("utf8"),
                        value,
                        timestamp: Number(m.timestamp)
                      }
                      return lossy && m.value !== null ? { ...record, raw: new Uint8Array(m.value) } : record
                    })
                    if (records.length > 0) {
                      await withHeartbeats(
                        emit.single({ _tag: "Records", partition: batch.partition, records }),
                        heartbeat
                      )
                    }
                  }
                }),
              catch: toBusError("consume", "could not start the Kafka consumer")
            })
          }),
        2
      )

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
