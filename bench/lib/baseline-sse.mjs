// The bare SSE baselines, on node:http, ioredis and kafkajs only.
//
//   node bench/lib/baseline-sse.mjs --port P --redis URL [--channel crypto:updates]
//     fan-out: subscribes to the Redis channel and writes each update, serialised once, to every client of
//     GET /api/events as `id / event / data` (the app's format), one write per client per event-loop turn.
//   … --relay-topic T --brokers B --group G --channel bench:updates
//     and also the bare version of the app's path before that: a kafkajs eachBatch consumer that parses each tick,
//     pipelines SETEX latest + PUBLISH per batch to Redis (like the processor's fast path), in the same process.
//
// Prints {"ev":"listening","port":P} and, with a relay, {"ev":"joined","t":ms}.
import http from "node:http"
import { Redis } from "ioredis"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const channel = args.channel ?? "crypto:updates"

const clients = new Set()
let nextId = 1
// The frames of one turn of the event loop go out as one write per client (ioredis hands messages over one by one),
// as the service does: one write per frame per client saturated this process at 10,000 clients (60 frames/s each).
let pending = []
const flush = () => {
  const data = pending.join("")
  pending = []
  for (const res of clients) res.write(data)
}
const subscriber = new Redis(args.redis)
subscriber.on("message", (_channel, message) => {
  const update = JSON.parse(message)
  const tag = update._tag
  if (pending.length === 0) setImmediate(flush)
  pending.push(
    `id: ${nextId++}\nevent: ${tag}\ndata: ${JSON.stringify(tag === "tick" ? update.tick : update.candle)}\n\n`
  )
})
await subscriber.subscribe(channel)

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/events")) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    res.write(": connected\nretry: 3000\n\n")
    clients.add(res)
    res.on("close", () => clients.delete(res))
    return
  }
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" })
    res.end('{"status":"ok"}')
    return
  }
  res.writeHead(404)
  res.end()
})
server.keepAliveTimeout = 0
await new Promise((r) => server.listen(Number(args.port), "127.0.0.1", r))
out({ ev: "listening", port: Number(args.port) })

if (args["relay-topic"]) {
  const { Kafka, logLevel } = await import("kafkajs")
  const publisher = new Redis(args.redis)
  const kafka = new Kafka({ clientId: "bench-relay", brokers: args.brokers.split(","), logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: args.group, sessionTimeout: 10_000, heartbeatInterval: 1_000 })
  consumer.on(consumer.events.GROUP_JOIN, () => out({ ev: "joined", t: Date.now() }))
  await consumer.connect()
  await consumer.subscribe({ topics: [args["relay-topic"]], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const pipeline = publisher.pipeline()
      for (const m of batch.messages) {
        const value = m.value.toString("utf8")
        const tick = JSON.parse(value)
        pipeline.setex(`bench:latest:${tick.symbol}`, 45, value)
        pipeline.publish(channel, JSON.stringify({ _tag: "tick", tick }))
      }
      void pipeline.exec() // like the processor's fast path: never blocks consumption
    }
  })
  process.on("SIGTERM", async () => {
    await consumer.disconnect().catch(() => undefined)
    process.exit(0)
  })
} else {
  process.on("SIGTERM", () => process.exit(0))
}
