// The bare Kafka baseline: a kafkajs eachBatch consumer that only decodes each record (UTF-8 + JSON.parse), with
// the processor's own group settings (session timeout 10 s, heartbeat 1 s, one partition at a time).
//
//   node bench/lib/baseline-consumer.mjs --brokers B --topic T --group G --mode drain
//     reads the topic to the end offsets it finds at start, prints {"ev":"done",...} and exits 0.
//   node bench/lib/baseline-consumer.mjs --brokers B --topic T --group G --mode follow
//     consumes for ever with auto-commit (at-least-once, the usual bare setup), printing one line per batch:
//     {"ev":"batch","t":ms,"p":partition,"first":offset,"last":offset,"n":records}
// Both print {"ev":"joined","t":ms,"partitions":[...]} on each group join and {"ev":"first","t":ms} at the first record.
import { Kafka, logLevel } from "kafkajs"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const mode = args.mode ?? "drain"

const kafka = new Kafka({ clientId: "bench-baseline", brokers: args.brokers.split(","), logLevel: logLevel.NOTHING })
const admin = kafka.admin()
await admin.connect()
const ends = new Map((await admin.fetchTopicOffsets(args.topic)).map((r) => [r.partition, Number(r.high)]))
await admin.disconnect()

const consumer = kafka.consumer({
  groupId: args.group,
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
  allowAutoTopicCreation: false
})
consumer.on(consumer.events.GROUP_JOIN, (e) =>
  out({ ev: "joined", t: Date.now(), partitions: e.payload.memberAssignment[args.topic] ?? [] })
)
await consumer.connect()
await consumer.subscribe({ topics: [args.topic], fromBeginning: true })

let count = 0
let parsed = 0
let first = false
const reached = new Map()
const total = [...ends.values()].reduce((a, b) => a + b, 0)
if (mode === "drain" && total === 0) {
  out({ ev: "done", t: Date.now(), records: 0 })
  process.exit(0)
}

await consumer.run({
  autoCommit: mode === "follow",
  partitionsConsumedConcurrently: 1,
  eachBatch: async ({ batch }) => {
    if (!first && batch.messages.length > 0) {
      first = true
      out({ ev: "first", t: Date.now() })
    }
    for (const m of batch.messages) {
      const value = JSON.parse(m.value === null ? "null" : m.value.toString("utf8"))
      if (value !== null) parsed++
      count++
    }
    if (batch.messages.length === 0) return
    const last = Number(batch.messages[batch.messages.length - 1].offset)
    if (mode === "follow") {
      out({
        ev: "batch",
        t: Date.now(),
        p: batch.partition,
        first: Number(batch.messages[0].offset),
        last,
        n: batch.messages.length
      })
      return
    }
    reached.set(batch.partition, last + 1)
    if ([...ends].every(([p, high]) => (reached.get(p) ?? 0) >= high)) {
      out({ ev: "done", t: Date.now(), records: count, parsed })
      setImmediate(async () => {
        await consumer.disconnect().catch(() => undefined)
        process.exit(0)
      })
    }
  }
})

const stop = async () => {
  await consumer.disconnect().catch(() => undefined)
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
