// K SSE clients split over P processes (bench/lib/sse-clients.mjs each), driven as one group: connect, count the
// ticks of a window, add their reports up (lag histograms merged exactly), close.
import { lineReader } from "../../support/lines.mjs"
import { startNodeScript } from "../../support/processes.mjs"
import { histogramPercentiles } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"

/** Connects `clients` SSE clients to `url` from `processes` processes; throws when one is refused. */
export const connectGroup = async ({ name, url, clients, processes, maxSeconds }) => {
  const shares = Array.from(
    { length: processes },
    (_, i) => Math.floor(clients / processes) + (i < clients % processes ? 1 : 0)
  ).filter((n) => n > 0)
  // A saturated server accepts slowly: the wait for K connections scales with K (50 ms each, at least 2 minutes).
  const connectSeconds = Math.max(120, Math.ceil(clients * 0.05))
  const procs = shares.map((n, i) => {
    const proc = startNodeScript(
      "sse-clients.mjs",
      [
        "--url",
        url,
        "--clients",
        String(n),
        "--concurrency",
        "50",
        "--max-seconds",
        String(connectSeconds + maxSeconds)
      ],
      { name: `${name}-clients-${i}`, stdin: "pipe" }
    )
    return { proc, lines: lineReader(proc) }
  })
  const t0 = Date.now()
  const connected = await Promise.all(
    procs.map((p) => p.lines.next((m) => m.ev === "connected", connectSeconds * 1000, "all connections"))
  )
  const failed = connected.reduce((a, c) => a + c.failed, 0)
  if (failed > 0)
    throw new Error(
      `${name}: ${failed} of ${clients} SSE connections were refused or failed: ${JSON.stringify(connected.map((c) => c.failures))}`
    )
  const ok = connected.reduce((a, c) => a + c.clients, 0)
  return {
    clients: ok,
    processes: procs.length,
    millis: Date.now() - t0,
    pids: procs.map((p) => p.proc.pid),
    /**
     * Counts, in every process, the ticks whose ingestTime (their scheduled moment) is in [from, to), whenever they
     * arrive; and as `<phase>:received`, the ticks received in [from, to), whenever they were due (the rate achieved).
     */
    phase: (phase, from, to) => {
      for (const p of procs) {
        p.proc.send({ cmd: "phase", name: phase, by: "ingest", from, to })
        p.proc.send({ cmd: "phase", name: `${phase}:received`, by: "receipt", from, to })
      }
    },
    /** The phase added up over the processes: ticks, repeats, lag percentiles; and the group's open sockets. */
    report: async (phase) => {
      const reports = await Promise.all(
        procs.map((p) => {
          p.proc.send({ cmd: "report", hist: true })
          return p.lines.after((m) => m.ev === "report", 60_000, "report")
        })
      )
      return { ...merge(reports, phase), receivedInWindow: merge(reports, `${phase}:received`).ticks }
    },
    close: async () => {
      for (const p of procs) p.proc.send({ cmd: "close" })
      await Promise.race([Promise.all(procs.map((p) => p.proc.exited)), sleep(15_000)])
      for (const p of procs) await p.proc.stop("SIGKILL")
    }
  }
}

const merge = (reports, phase) => {
  const hist = new Uint32Array(300_001)
  let ticks = 0
  let repeats = 0
  let count = 0
  let sum = 0
  let max = 0
  let open = 0
  let closedEarly = 0
  let cpuSeconds = 0
  for (const r of reports) {
    const p = r.phases[phase]
    open += r.open
    closedEarly += r.closedEarly
    cpuSeconds += r.cpuSeconds
    if (p === undefined) continue
    ticks += p.ticks
    repeats += p.repeats
    count += p.lagMs.count
    sum += p.lagSum ?? 0
    max = Math.max(max, p.lagMs.max ?? 0)
    for (const [ms, n] of p.hist ?? []) hist[ms] += n
  }
  return { ticks, repeats, lagMs: histogramPercentiles(hist, count, max, sum), open, closedEarly, cpuSeconds }
}

/** Waits until the group's count of a phase stops growing for `quietMs` (at most `maxMs`), and returns it. */
export const settledReport = async (group, phase, { expected, quietMs = 1000, maxMs = 10_000 } = {}) => {
  let last = await group.report(phase)
  for (let waited = 0; waited < maxMs && last.ticks < expected; waited += quietMs) {
    await sleep(quietMs)
    const now = await group.report(phase)
    const grew = now.ticks > last.ticks
    last = now
    if (!grew) break
  }
  return last
}
