import { PGlite } from "@electric-sql/pglite"
import { readFileSync } from "node:fs"
const rss = () => Math.round(Number(readFileSync("/proc/self/status","utf8").match(/VmRSS:\s+(\d+)/)[1])/1024)
const mu = () => { const m = process.memoryUsage(); return `rss ${rss()} heapUsed ${m.heapUsed>>20} heapTotal ${m.heapTotal>>20} ext ${m.external>>20} ab ${m.arrayBuffers>>20}` }
const opts = JSON.parse(process.argv[3] ?? "{}")
console.log("start", mu())
const db = await PGlite.create({ dataDir: process.argv[2], ...opts })
console.log("created", mu(), "wasm", db.mod.HEAPU8.byteLength>>20)
for (const s of ["shared_buffers","work_mem","wal_buffers","maintenance_work_mem","temp_buffers"]) console.log(s, (await db.query(`SHOW ${s}`)).rows[0][s])
await new Promise(r=>setTimeout(r,3000)); globalThis.gc?.()
console.log("idle", mu(), "wasm", db.mod.HEAPU8.byteLength>>20)
await db.exec("CREATE TABLE IF NOT EXISTS t (a int, b text); INSERT INTO t SELECT g, repeat('x',100) FROM generate_series(1,300000) g; SELECT count(*) FROM t;")
globalThis.gc?.()
console.log("after 300k rows", mu(), "wasm", db.mod.HEAPU8.byteLength>>20)
process.exit(0)
