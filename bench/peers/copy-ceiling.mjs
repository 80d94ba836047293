#!/usr/bin/env node
// The Postgres ceiling of the throughput scenario: the rows our processor ends up with (its ticks, the final state of
// its candles, its checkpoint rows) written with COPY FROM STDIN (pg-copy-streams) into a freshly migrated database,
// so the same tables with the same indexes, in one transaction. No Kafka, no decoding, each candle written once
// (the processor upserts an open candle at every checkpoint): the fastest these rows become durable here.
//
//   node bench/peers/copy-ceiling.mjs dump --database-url SRC --dir D
//     COPY … TO STDOUT of ticks, candles and processor_checkpoints into D/<table>.copy; prints {"ev":"dumped",rows}.
//   node bench/peers/copy-ceiling.mjs load --database-url DST --dir D
//     reads D/*.copy into memory, prints {"ev":"ready"}, waits for a line on stdin, then BEGIN; COPY each table;
//     COMMIT, and prints {"ev":"done","t0","t1","seconds","rows"} (t0/t1: ms since the epoch around the transaction).
import { createWriteStream } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import pg from "pg"
import { from as copyFrom, to as copyTo } from "pg-copy-streams"

const [mode, ...rest] = process.argv.slice(2)
const args = {}
for (let i = 0; i < rest.length; i += 2) args[rest[i].replace(/^--/, "")] = rest[i + 1]
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
// Parents first is not needed (no foreign keys); ticks first as the processor's transaction writes them.
const tables = ["processor_checkpoints", "ticks", "candles"]

const db = new pg.Client({ connectionString: args["database-url"] })
await db.connect()

const countLines = (buf) => {
  let n = 0
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++
  return n
}

if (mode === "dump") {
  for (const table of tables)
    await pipeline(db.query(copyTo(`COPY ${table} TO STDOUT`)), createWriteStream(join(args.dir, `${table}.copy`)))
  const rows = {}
  for (const table of tables) rows[table] = countLines(await readFile(join(args.dir, `${table}.copy`)))
  out({ ev: "dumped", rows })
  await db.end()
  process.exit(0)
} else if (mode === "load") {
  const data = new Map()
  for (const table of tables) data.set(table, await readFile(join(args.dir, `${table}.copy`)))
  out({ ev: "ready" })
  const lines = createInterface({ input: process.stdin })
  await new Promise((resolve) => lines.once("line", resolve))
  lines.close()
  const t0 = Date.now()
  const p0 = performance.now()
  await db.query("BEGIN")
  for (const [table, buf] of data) {
    const chunks = []
    for (let i = 0; i < buf.length; i += 1 << 20) chunks.push(buf.subarray(i, i + (1 << 20)))
    await pipeline(Readable.from(chunks), db.query(copyFrom(`COPY ${table} FROM STDIN`)))
  }
  await db.query("COMMIT")
  const seconds = (performance.now() - p0) / 1000
  const rows = Object.fromEntries([...data].map(([table, buf]) => [table, countLines(buf)]))
  out({ ev: "done", t0, t1: Date.now(), seconds, rows })
  // Stays until SIGTERM: the harness reads its CPU time first.
  await db.end()
  const keepAlive = setInterval(() => undefined, 60_000)
  process.once("SIGTERM", () => {
    clearInterval(keepAlive)
    process.exit(0)
  })
} else {
  process.stderr.write("usage: copy-ceiling.mjs dump|load --database-url URL --dir D\n")
  process.exit(2)
}
