// Preloaded into a soak process (NODE_OPTIONS=--import): appends its memory use to SOAK_MEM_FILE every 5 s, so the
// soak sees the heap of each process from outside, without an HTTP endpoint in the process.
import { appendFileSync } from "node:fs"

const file = process.env.SOAK_MEM_FILE
if (file) {
  const sample = () => {
    const m = process.memoryUsage()
    const line = { t: Date.now(), pid: process.pid, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal }
    appendFileSync(file, `${JSON.stringify(line)}\n`)
  }
  setInterval(sample, 5000).unref()
}
