// The ticks a topic holds, read from its beginning to its current end: the reference a scenario checks the service's
// deliveries against (what it was given, not what it says it passed on).
import { endOffsets, kafka } from "../../support/kafka.mjs"
import { unique } from "../../support/services.mjs"

/**
 * Ticks in `topic` (decoded JSON) whose ingestTime is in [from, to); fails after `timeoutMs`. With `onTick`, each
 * is handed to it instead of collected (a long soak's topic does not fit in an array).
 */
export const topicTicks = async (brokers, topic, from, to, timeoutMs = 120_000, onTick = undefined) => {
  const client = kafka(brokers, "bench-topic-reader")
  const admin = client.admin()
  await admin.connect()
  const ends = await endOffsets(admin, topic).finally(() => admin.disconnect())
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p))
  const ticks = []
  if (pending.size === 0) return ticks
  const consumer = client.consumer({ groupId: unique("bench_reader") })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end`)), timeoutMs)
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            let tick
            try {
              tick = JSON.parse(message.value.toString())
            } catch {
              tick = undefined // not a tick: nothing the SSE feed should carry
            }
            if (tick?.ingestTime >= from && tick.ingestTime < to) {
              if (onTick === undefined) ticks.push(tick)
              else onTick(tick)
            }
            if (Number(message.offset) + 1 >= ends.get(partition)) pending.delete(partition)
            if (pending.size === 0) {
              clearTimeout(timer)
              resolve()
            }
          }
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return ticks
}
