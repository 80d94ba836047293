#!/usr/bin/env node
// The floor of our own design: a bare kafkajs eachBatch consumer that writes each batch's ticks and its partition's
// next offset in one Postgres transaction, into the processor's own tables (ticks, processor_checkpoints). No
// operator, no candles, no cache: what exactly-once into Postgres costs by itself. Same group settings as the
// processor (src/Bus/KafkaConsumer.ts: session 10 s, heartbeat 1 s, one partition at a time, auto-commit off), the
// same claim (epoch + 1, resume at next_offset; src/Store/Checkpoints.ts) and the same fenced checkpoint row.
//
//   node bench/peers/minimal-sink.mjs --brokers B --topic T --group G --database-url URL [--write unnest|copy]
//
// unnest (the default): INSERT … SELECT FROM unnest(column arrays) ON CONFLICT DO NOTHING, as the processor does.
// copy: COPY ticks FROM STDIN (pg-copy-streams); no ON CONFLICT, so a duplicate tick in the topic fails the batch.
// Prints JSON lines: {"ev":"claimed","t","partitions"}, {"ev":"first","t"}, {"ev":"done","t","records"} once its
// checkpoints cover the end offsets it found at start; exits 0 on SIGTERM.
import { pipeline } from "node:stream/promises"
import { Kafka, logLevel } from "kafkajs"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const write = args.write ?? "unnest"
const owner = `minimal-sink/${process.pid}`

const kafka = new Kafka({
  clientId: "bench-minimal-sink",
  brokers: args.brokers.split(","),
  logLevel: logLevel.NOTHING
})
const admin = kafka.admin()
await admin.connect()
const ends = new Map((await admin.fetchTopicOffsets(args.topic)).map((r) => [r.partition, Number(r.high)]))
await admin.disconnect()

const db = new pg.Client({ connectionString: args["database-url"] })
await db.connect()

// partition → { epoch, nextOffset }
const held = new Map()
const claim = async (partitions) => {
  const { rows } = await db.query(
    `INSERT INTO processor_checkpoints (topic, partition, next_offset, state, owner, epoch, updated_at)
     SELECT $1, p, 0, NULL, $2, 1, now() FROM unnest($3::int4[]) p
     ON CONFLICT (topic, partition) DO UPDATE SET
       epoch = processor_checkpoints.epoch + 1, owner = excluded.owner, updated_at = excluded.updated_at
     RETURNING partition, epoch::int8 AS epoch, next_offset::int8 AS next_offset`,
    [args.topic, owner, partitions]
  )
  for (const r of rows) held.set(r.partition, { epoch: Number(r.epoch), nextOffset: Number(r.next_offset) })
  return rows
}

// sampleMarket (src/Domain/Tick.ts) for ticks that carry no market.
const marketOf = (t) => t.market ?? `${t.source === "replay" ? "coingecko" : t.source}:${t.symbol}-USD`

const columns = (ticks) => [
  ticks.map(marketOf),
  ticks.map((t) => t.symbol),
  ticks.map((t) => t.coinId),
  ticks.map((t) => t.source),
  ticks.map((t) => t.eventTime),
  ticks.map((t) => t.price),
  ticks.map((t) => t.volume ?? null),
  ticks.map((t) => t.volume24h ?? null),
  ticks.map((t) => t.marketCap ?? null),
  ticks.map((t) => t.change24h ?? null),
  ticks.map((t) => t.ingestTime),
  ticks.map((t) => t.tradeId ?? -1),
  ticks.map((t) => t.side ?? null)
]

const insertUnnest = (ticks) =>
  db.query(
    `INSERT INTO ticks (market, symbol, coin_id, source, event_time, price, volume, volume_24h, market_cap, change_24h,
       ingest_time, trade_id, side)
     SELECT m, s, c, src, to_timestamp(e / 1000.0), p, v, v24, mc, ch, to_timestamp(i / 1000.0), tid, sd
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::float8[], $7::float8[], $8::float8[],
       $9::float8[], $10::float8[], $11::int8[], $12::int8[], $13::text[])
       AS u(m, s, c, src, e, p, v, v24, mc, ch, i, tid, sd)
     ON CONFLICT (market, event_time, trade_id) DO NOTHING`,
    columns(ticks)
  )

// COPY text format: tab-separated, \N for null; our fields hold no tabs, newlines or backslashes.
const iso = (ms) => new Date(ms).toISOString()
const copyLine = (t) =>
  `${marketOf(t)}\t${t.symbol}\t${t.coinId}\t${t.source}\t${iso(t.eventTime)}\t${t.price}\t${t.volume ?? "\\N"}\t` +
  `${t.volume24h ?? "\\N"}\t${t.marketCap ?? "\\N"}\t${t.change24h ?? "\\N"}\t${iso(t.ingestTime)}\t` +
  `${t.tradeId ?? -1}\t${t.side ?? "\\N"}\n`
const insertCopy = async (ticks) => {
  const stream = db.query(
    copyFrom(`COPY ticks (market, symbol, coin_id, source, event_time, price, volume, volume_24h, market_cap,
      change_24h, ingest_time, trade_id, side) FROM STDIN`)
  )
  await pipeline(async function* () {
    yield ticks.map(copyLine).join("")
  }, stream)
}

const commit = async (partition, epoch, nextOffset, ticks) => {
  await db.query("BEGIN")
  try {
    const fenced = await db.query(
      `UPDATE processor_checkpoints SET next_offset = $1, owner = $2, updated_at = now()
       WHERE topic = $3 AND partition = $4 AND epoch = $5`,
      [nextOffset, owner, args.topic, partition, epoch]
    )
    if (fenced.rowCount !== 1) throw new Error(`partition ${partition} has a newer owner`)
    if (ticks.length > 0) await (write === "copy" ? insertCopy(ticks) : insertUnnest(ticks))
    await db.query("COMMIT")
  } catch (e) {
    await db.query("ROLLBACK").catch(() => undefined)
    throw e
  }
}

const consumer = kafka.consumer({
  groupId: args.group,
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
  allowAutoTopicCreation: false,
  retry: { initialRetryTime: 300, retries: 8 }
})
let ready = Promise.resolve()
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const partitions = e.payload.memberAssignment[args.topic] ?? []
  ready = ready.then(async () => {
    const rows = await claim(partitions)
    for (const r of rows) consumer.seek({ topic: args.topic, partition: r.partition, offset: String(r.next_offset) })
    out({ ev: "claimed", t: Date.now(), partitions })
  })
})
await consumer.connect()
await consumer.subscribe({ topics: [args.topic], fromBeginning: true })

let first = false
let records = 0
const done = () => [...ends].every(([p, high]) => (held.get(p)?.nextOffset ?? 0) >= high)
await consumer.run({
  autoCommit: false,
  partitionsConsumedConcurrently: 1,
  eachBatch: async ({ batch, isRunning, isStale }) => {
    await ready
    const h = held.get(batch.partition)
    if (!isRunning() || isStale() || h === undefined || batch.messages.length === 0) return
    if (!first) {
      first = true
      out({ ev: "first", t: Date.now() })
    }
    const ticks = []
    let next = h.nextOffset
    for (const m of batch.messages) {
      const offset = Number(m.offset)
      if (offset < h.nextOffset) continue // before the checkpoint: a redelivery
      next = offset + 1
      if (m.value !== null) ticks.push(JSON.parse(m.value.toString("utf8")))
    }
    if (next === h.nextOffset) return
    await commit(batch.partition, h.epoch, next, ticks)
    h.nextOffset = next
    records += ticks.length
    if (done()) {
      // Stays until SIGTERM: the harness reads its CPU time first.
      out({ ev: "done", t: Date.now(), records })
    }
  }
})

const stop = async () => {
  await consumer.disconnect().catch(() => undefined)
  await db.end().catch(() => undefined)
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
