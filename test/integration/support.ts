import { Redis } from "ioredis"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import pg from "pg"

/** The real services; `npm test` starts them with scripts/services.sh and sets these. */
export const services = () => {
  const missing = ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"].filter((n) => !process.env[n])
  if (missing.length > 0) {
    throw new Error(
      `integration suites need real services: ${missing.join(", ")} not set (run \`npm test\`, which starts them)`
    )
  }
  return {
    kafkaBrokers: process.env["KAFKA_BROKERS"]!,
    redisUrl: process.env["REDIS_URL"]!,
    databaseUrl: process.env["DATABASE_URL"]!
  }
}

export const unique = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`

/** A throw-away database on the test server, so runs never see each other's rows. */
export const createDatabase = async (adminUrl: string, name: string) => {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export const query = async <R extends Record<string, unknown>>(
  url: string,
  text: string,
  params: ReadonlyArray<unknown> = []
) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, [...params])).rows
  } finally {
    await client.end()
  }
}

export const kafka = (brokers: string) =>
  new Kafka({ clientId: "integration-test", brokers: brokers.split(","), logLevel: logLevel.NOTHING })

export const createTopic = async (brokers: string, topic: string, partitions = 3) => {
  const admin = kafka(brokers).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

export const publish = async (
  brokers: string,
  topic: string,
  messages: ReadonlyArray<{ key: string; value: string }>
) => {
  const producer = kafka(brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: [...messages] })
  } finally {
    await producer.disconnect()
  }
}

/** Every record now in the topic (reads up to the end offsets the broker reports). */
export const readTopic = async (brokers: string, topic: string) => {
  const k = kafka(brokers)
  const admin = k.admin()
  await admin.connect()
  const ends = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const want = new Map(ends.map((e) => [e.partition, Number(e.high)]))
  const records: Array<{ partition: number; offset: number; key: string | null; value: string }> = []
  if ([...want.values()].every((h) => h === 0)) return records
  const consumer = k.consumer({ groupId: unique("reader") })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const seen = new Map<number, number>()
  await new Promise<void>((resolve, reject) => {
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
          resolve()
        }
      }
    })
  })
  await consumer.disconnect()
  return records
}

export const redis = (url: string) => {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  client.on("error", () => undefined) // a later test stops Redis on purpose
  return client
}
