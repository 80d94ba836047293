// @ts-check
// Kafka: a client, topics made and deleted, end offsets, publishing, and reading a whole topic back.
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { log } from "./results.mjs"
import { unique } from "./services.mjs"

/**
 * @param {string} brokers comma-separated host:port
 * @param {string} [clientId]
 */
export const kafka = (brokers, clientId = "bench") =>
  new Kafka({ clientId, brokers: brokers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 8 } })

/**
 * @param {string} brokers
 * @param {string} topic
 */
export const createTopic = async (brokers, topic, partitions = 3) => {
  const admin = kafka(brokers).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

/**
 * @param {string} brokers
 * @param {ReadonlyArray<string>} topics
 */
export const deleteTopics = async (brokers, topics) => {
  const admin = kafka(brokers).admin()
  try {
    await admin.connect()
    const existing = new Set(await admin.listTopics())
    const gone = topics.filter((t) => existing.has(t))
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 10_000 })
  } catch (e) {
    log(`could not delete topics ${topics.join(",")}: ${/** @type {Error} */ (e).message}`)
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

/**
 * Offsets one past the last record, per partition.
 * @param {import("kafkajs").Admin} admin
 * @param {string} topic
 */
export const endOffsets = async (admin, topic) =>
  new Map((await admin.fetchTopicOffsets(topic)).map((r) => [r.partition, Number(r.high)]))

/** @param {string} brokers */
export const producer = async (brokers) => {
  const p = kafka(brokers, "bench-publisher").producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false
  })
  await p.connect()
  return p
}

/**
 * Sends `messages` in one acknowledged batch, on a producer of its own.
 * @param {string} brokers
 * @param {string} topic
 * @param {ReadonlyArray<{ key: string, value: string }>} messages
 */
export const publish = async (brokers, topic, messages) => {
  const p = kafka(brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await p.connect()
  try {
    await p.send({ topic, acks: -1, messages: [...messages] })
  } finally {
    await p.disconnect()
  }
}

/**
 * Every record now in the topic (reads up to the end offsets the broker reports).
 * @param {string} brokers
 * @param {string} topic
 */
export const readTopic = async (brokers, topic) => {
  const k = kafka(brokers)
  const admin = k.admin()
  await admin.connect()
  const want = await endOffsets(admin, topic)
  await admin.disconnect()
  /** @type {Array<{ partition: number, offset: number, key: string | null, value: string }>} */
  const records = []
  if ([...want.values()].every((h) => h === 0)) return records
  const consumer = k.consumer({ groupId: unique("reader") })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  /** @type {Map<number, number>} */
  const seen = new Map()
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} did not finish`)), 30_000)
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? ""
        })
        seen.set(partition, Number(message.offset) + 1)
        if ([...want].every(([p, high]) => (seen.get(p) ?? 0) >= high)) {
          clearTimeout(timer)
          resolve(undefined)
        }
      }
    })
  })
  await consumer.disconnect()
  return records
}
