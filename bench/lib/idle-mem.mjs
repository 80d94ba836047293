// Preloaded into the measured process (NODE_OPTIONS=--import, bench idle): appends process.memoryUsage() to
// IDLE_MEM_FILE every second, so the bench sees the V8 heap, external memory and array buffers from outside, without
// a debug endpoint in the app. Children that inherit NODE_OPTIONS (the embedded Postgres's initdb) write theirs too:
// each line carries its pid. External includes WebAssembly memories (PGlite's): their size, not what is resident.
import { appendFileSync } from "node:fs"

const file = process.env.IDLE_MEM_FILE
if (file) {
  const sample = () => {
    const m = process.memoryUsage()
    const line = {
      t: Date.now(),
      pid: process.pid,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers
    }
    appendFileSync(file, `${JSON.stringify(line)}\n`)
  }
  setInterval(sample, 1000).unref()
}
