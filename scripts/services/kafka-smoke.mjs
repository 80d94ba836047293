#!/usr/bin/env node
// Smoke check of a Kafka broker with the kafkajs the project uses (2.2.4).
//
//   node scripts/services/kafka-smoke.mjs          full check (topic, produce, group consume, commit, fetchOffsets, seek, txn)
//   node scripts/services/kafka-smoke.mjs --ping   only "does the broker answer a metadata request" (used by services.sh)
//
// Broker from KAFKA_BROKERS (default 127.0.0.1:9092). Exits 0 on success, 1 on any failure or after a hard timeout.
import { randomBytes } from "node:crypto"
import kafkajs from "kafkajs"

const { Kafka, logLevel, Partitioners } = kafkajs
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
const pingOnly = process.argv.includes("--ping")
const verbose = process.argv.includes("--verbose")

// Never hang a test run: bounded overall time.
const hardTimeoutMs = Number(process.env.KAFKA_SMOKE_TIMEOUT_MS ?? (pingOnly ? 10_000 : 60_000))
const timer = setTimeout(() => {
  console.error(`kafka-smoke: timed out after ${hardTimeoutMs} ms`)
  process.exit(1)
}, hardTimeoutMs)

const kafka = new Kafka({
  clientId: "kafka-smoke",
  brokers,
  // kafkajs logs retriable errors (coordinator still loading on a fresh broker) at ERROR: show them only with --verbose
  logLevel: verbose ? logLevel.DEBUG : logLevel.NOTHING,
  // Fail fast in --ping mode: services.sh does the retrying.
  retry: pingOnly ? { retries: 0 } : { retries: 5, initialRetryTime: 200 },
  connectionTimeout: 3000
})

const check = (cond, msg) => {
  if (!cond) throw new Error(`check failed: ${msg}`)
}
const t0 = Date.now()
const step = (msg) => console.log(`kafka-smoke: +${Date.now() - t0}ms ${msg}`)

async function ping() {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const cluster = await admin.describeCluster()
    check(cluster.brokers.length >= 1, "describeCluster returned no broker")
  } finally {
    await admin.disconnect()
  }
}

async function full() {
  const id = randomBytes(4).toString("hex")
  const topic = `smoke-${id}`
  const groupId = `smoke-group-${id}`
  const admin = kafka.admin()
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  // maxWaitTimeInMs: a seek only takes effect once the in-flight fetch returns (default long poll: 5 s)
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 250
  })
  await admin.connect()
  try {
    const cluster = await admin.describeCluster()
    step(`connected, cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)`)

    // Topic with 3 partitions (auto-create is off on our broker, so this must be explicit).
    check(
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }),
      "createTopics returned false"
    )
    const meta = await admin.fetchTopicMetadata({ topics: [topic] })
    check(meta.topics[0].partitions.length === 3, "topic does not have 3 partitions")
    step(`created ${topic} with 3 partitions`)

    // Produce keyed messages with acks=-1 (all in-sync replicas).
    await producer.connect()
    const N = 30
    const messages = Array.from({ length: N }, (_, i) => ({ key: `key-${i % 7}`, value: `value-${i}` }))
    const acks = await producer.send({ topic, acks: -1, messages })
    const usedPartitions = new Set(acks.map((r) => r.partition))
    check(usedPartitions.size > 1, "keys all landed in one partition")
    step(`produced ${N} keyed messages with acks=-1 over ${usedPartitions.size} partitions`)

    // Consume in a group with autoCommit off, then commit by hand.
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const seen = new Map() // partition -> last offset seen
    let received = 0
    let afterSeek = 0
    let seeked = false
    let expectedP0 = Infinity // set before the seek
    let resolveAll
    const allReceived = new Promise((r) => (resolveAll = r))
    let resolveSeek
    const seekDone = new Promise((r) => (resolveSeek = r))
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (seeked) {
          if (partition === 0 && ++afterSeek === expectedP0) resolveSeek()
          return
        }
        received++
        seen.set(partition, Math.max(seen.get(partition) ?? -1, Number(message.offset)))
        if (received === N) resolveAll()
      }
    })
    await allReceived
    step(`consumed ${received} messages in group ${groupId}`)

    await consumer.commitOffsets(
      [...seen].map(([partition, offset]) => ({ topic, partition, offset: String(offset + 1) }))
    )
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const latest = await admin.fetchTopicOffsets(topic)
    for (const p of latest) {
      const c = committed.partitions.find((x) => x.partition === p.partition)
      check(c && c.offset === p.high, `partition ${p.partition}: committed ${c?.offset} != high watermark ${p.high}`)
    }
    step(
      `committed offsets and read them back with admin.fetchOffsets: ` +
        `${committed.partitions.map((p) => `${p.partition}:${p.offset}`).join(" ")}`
    )

    // Seek partition 0 back to the start: its messages must come again.
    expectedP0 = Number(latest.find((p) => p.partition === 0).high)
    check(expectedP0 > 0, "partition 0 got no message; cannot test seek")
    seeked = true
    consumer.seek({ topic, partition: 0, offset: "0" })
    await seekDone
    step(`seek to offset 0 on partition 0 re-delivered ${afterSeek} message(s)`)
    await consumer.stop()

    // Transactional produce (idempotent producer + transaction coordinator): the exactly-once building blocks.
    const txProducer = kafka.producer({
      transactionalId: `smoke-tx-${id}`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner
    })
    await txProducer.connect()
    try {
      const tx = await txProducer.transaction()
      await tx.send({ topic, messages: [{ key: "tx", value: "committed-in-tx" }] })
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic, partitions: [{ partition: 0, offset: String(expectedP0) }] }]
      })
      await tx.commit()
    } finally {
      await txProducer.disconnect()
    }
    step("transactional send + sendOffsets + commit ok")

    await admin.deleteTopics({ topics: [topic] })
    await admin.deleteGroups([groupId]).catch(() => {}) // best effort: the group may still be settling
    step("OK")
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()])
    await admin.disconnect()
  }
}

try {
  await (pingOnly ? ping() : full())
  clearTimeout(timer)
  process.exit(0)
} catch (err) {
  console.error(`kafka-smoke: FAILED: ${err?.stack ?? err}`)
  process.exit(1)
}
