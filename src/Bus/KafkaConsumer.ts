import { Effect, Runtime, Stream, type StreamEmit } from "effect"
import type { Batch, Consumer, EachBatchPayload, Kafka } from "kafkajs"
import { type Bus, BusError, type BusRecord, type ConsumerEvent } from "./Bus.js"

export const toBusError = (reason: BusError["reason"], what: string) => (cause: unknown) =>
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

type ConsumeOptions = Pick<Parameters<Bus["Type"]["consume"]>[0], "topic">

/** The partitions this member holds, and the promise the batches wait on while an assignment is being handled. */
interface Assignment {
  memberId: string | undefined
  assigned: Set<number>
  ready: Promise<void>
}

/**
 * The group's consumer as a stream of events (auto-commit off). `consumers` holds the running consumer of each group,
 * for committing its offsets.
 */
export const consume =
  (kafka: Kafka, consumers: Map<string, Consumer>): Bus["Type"]["consume"] =>
  (opts) =>
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
          const assignment: Assignment = { assigned: new Set<number>(), ready: Promise.resolve(), memberId: undefined }
          consumer.on(consumer.events.GROUP_JOIN, (e) =>
            onJoin(consumer, opts, emit, assignment, e.payload, (ps) => run(opts.onAssign(ps)))
          )

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
                  await assignment.ready
                  if (!isRunning() || isStale() || !assignment.assigned.has(batch.partition)) return
                  const records = toRecords(batch)
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

/** Each (re)join: revoke what we lost, load checkpoints for what we got, seek there, then let batches through. */
const onJoin = <E>(
  consumer: Consumer,
  opts: ConsumeOptions,
  emit: StreamEmit.Emit<never, BusError | E, ConsumerEvent, void>,
  assignment: Assignment,
  join: { readonly memberId: string; readonly memberAssignment: Readonly<Record<string, ReadonlyArray<number>>> },
  claim: (gained: ReadonlyArray<number>) => Promise<ReadonlyMap<number, number>>
) => {
  const next = new Set(join.memberAssignment[opts.topic] ?? [])
  // A new member id: the group expelled us (a session that expired while we were stopped or cut off) and went on
  // without us, so another member may have claimed any of our partitions meanwhile, even those given back to us now.
  // Those are claimed afresh too: the claim replaces their stale state and work.
  const expelled = assignment.memberId !== undefined && assignment.memberId !== join.memberId
  assignment.memberId = join.memberId
  const revoked = [...assignment.assigned].filter((p) => !next.has(p))
  const gained = [...next].filter((p) => expelled || !assignment.assigned.has(p))
  assignment.assigned = next
  assignment.ready = assignment.ready
    .then(async () => {
      if (revoked.length > 0) await emit.single({ _tag: "Revoked", partitions: revoked })
      if (gained.length === 0) return
      const offsets = await claim(gained)
      for (const p of gained) {
        const offset = offsets.get(p)
        if (offset !== undefined) consumer.seek({ topic: opts.topic, partition: p, offset: String(offset) })
      }
      await emit.single({ _tag: "Assigned", partitions: gained })
    })
    .catch((cause: unknown) => {
      void emit.fail(toBusError("consume", "partition assignment failed")(cause))
    })
}

/** A fetched batch as bus records: values as UTF-8 text, with the original bytes where the text does not reproduce them. */
const toRecords = (batch: Batch): Array<BusRecord> =>
  batch.messages.map((m) => {
    const value = m.value === null ? "" : m.value.toString("utf8")
    // Invalid UTF-8 decodes to U+FFFD, so only a text holding one can differ from its bytes; compared
    // byte for byte (a truncated 4-byte sequence becomes one U+FFFD of the same length).
    const lossy = m.value !== null && value.includes("\uFFFD") && !Buffer.from(value, "utf8").equals(m.value)
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
