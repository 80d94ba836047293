// The rest scenario's figures: per endpoint and server, the median and spread (min–max) over rounds of req/s, p99
// and CPU-seconds per 1,000 requests; ratios of medians; and the targets of issue #17.
import { ratio, round } from "../../support/statistics.mjs"

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length === 0 ? null : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const spread = (xs, digits) => ({
  median: round(median(xs), digits),
  min: round(Math.min(...xs), digits),
  max: round(Math.max(...xs), digits)
})

export const summarize = (runs, endpoints, servers, shapes) => {
  const summary = {}
  for (const endpoint of endpoints) {
    summary[endpoint] = {}
    for (const server of servers) {
      const rs = runs.filter((r) => r.endpoint === endpoint && r.server === server)
      if (rs.length === 0) continue
      summary[endpoint][server] = {
        rounds: rs.length,
        rps: spread(
          rs.map((r) => r.rps),
          1
        ),
        p50Ms: spread(
          rs.map((r) => r.latencyMs.p50),
          2
        ),
        p99Ms: spread(
          rs.map((r) => r.latencyMs.p99),
          2
        ),
        cpuSecondsPer1k: spread(
          rs.map((r) => (1000 * r.serverUsage.cpuSeconds) / r.requests),
          3
        ),
        serverCpuPercent: spread(
          rs.map((r) => r.serverUsage.cpuPercent),
          0
        ),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
        responseBytes: shapes[server]?.[endpoint]?.bytes
      }
    }
  }
  return summary
}

/** api ÷ other: the ratio of median req/s, and the spread of the per-round ratios (the same round's pair). */
const versus = (runs, summary, endpoint, other) => {
  const a = summary[endpoint].api
  const b = summary[endpoint][other]
  if (a === undefined || b === undefined) return undefined
  const perRound = []
  for (const r of runs.filter((x) => x.endpoint === endpoint && x.server === "api")) {
    const o = runs.find((x) => x.endpoint === endpoint && x.server === other && x.round === r.round)
    if (o !== undefined) perRound.push(r.rps / o.rps)
  }
  return {
    median: ratio(a.rps.median, b.rps.median),
    min: round(Math.min(...perRound), 3),
    max: round(Math.max(...perRound), 3)
  }
}

export const ratios = (runs, summary, servers) => {
  const out = {}
  for (const endpoint of Object.keys(summary))
    for (const other of servers.filter((s) => s !== "api")) {
      const v = versus(runs, summary, endpoint, other)
      if (v !== undefined) out[`${endpoint} api/${other}`] = v
    }
  out.definition =
    "api req/s ÷ other req/s: median is the ratio of the medians over rounds; min and max are the per-round ratios'"
  return out
}

/** Issue #17's targets (never failing the run): /api/latest ≥ 3× FastAPI (its faster setting) and ≥ 0.8× bare. */
export const targets = (r) => {
  const fastapi = ["latest api/fastapi-1", "latest api/fastapi-2"].map((k) => r[k]?.median).filter((x) => x != null)
  const latestVsFastapi = fastapi.length === 0 ? null : Math.min(...fastapi)
  const checks = {
    latestVsBare: { want: 0.8, got: r["latest api/baseline"]?.median ?? null },
    candlesVsBare: { want: 0.8, got: r["candles api/baseline"]?.median ?? null },
    latestVsFastapi: { want: 3, got: latestVsFastapi, note: "against the faster of 1 and 2 workers" }
  }
  for (const c of Object.values(checks)) c.met = c.got === null ? null : c.got >= c.want
  return { ...checks, met: Object.values(checks).every((c) => c.met !== false) }
}
