// K concurrent SSE clients in one process, for the latency and fanout scenarios. Loopback only, bounded in count
// (--clients ≤ 20,000) and time (--max-seconds, default 600: it exits by itself after that).
//
//   node bench/lib/sse-clients.mjs --url http://127.0.0.1:PORT/api/events --clients 500 [--concurrency 100]
//   node bench/lib/sse-clients.mjs --redis redis://127.0.0.1:P --channel crypto:updates
//     the same measurements on the Redis live channel itself (a tap between the processor and the SSE server)
//
// Commands arrive as JSON lines on stdin; answers go out as JSON lines on stdout:
//   → {"ev":"connected","clients":n,"failed":f,"millis":t}                         once every client has its headers
//   ← {"cmd":"phase","name":"x","by":"receipt"|"ingest","from":ms,"to":ms}          count events in a window
//   ← {"cmd":"report"}  → {"ev":"report","phases":{...},"open":n,"closedEarly":n}
//   ← {"cmd":"report","hist":true}  the same, each phase with its lag histogram as [[ms, count], …] (non-zero
//     slots) and lagSum, so the histograms of several client processes add up exactly
//   ← {"cmd":"close"}   → all sockets destroyed, {"ev":"closed"}, exit 0
//
// A phase "by receipt" counts every event received in [from, to) and the lag (receipt − the tick's ingestTime) of
// each tick in it; "by ingest" counts the ticks whose ingestTime is in [from, to), whenever they arrive (so a
// publisher can compare what it sent in a window with what arrived). Lags go into a 1 ms histogram.
// `repeats` counts, per connection, ticks whose eventTime is not above the last one of their symbol on that
// connection: a tick delivered twice (or out of order, which the per-symbol feed must not do either).
import http from "node:http"
import { createInterface } from "node:readline"
import { histogramPercentiles } from "../../support/statistics.mjs"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const url = new URL(args.url ?? args.redis)
const clients = args.redis ? 1 : Number(args.clients ?? 1)
const concurrency = Number(args.concurrency ?? 100)
const maxSeconds = Number(args["max-seconds"] ?? 600)
const headerName = args.lag ?? "ingestTime"

if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) throw new Error(`loopback only, got ${url.hostname}`)
if (!(clients >= 1 && clients <= 20_000)) throw new Error(`--clients must be 1..20000, got ${args.clients}`)
setTimeout(() => {
  process.stderr.write(`sse-clients: --max-seconds ${maxSeconds} reached, exiting\n`)
  process.exit(3)
}, maxSeconds * 1000).unref()

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)

const HIST = 300_001 // 0..300,000 ms (a backlog at a rate the pipeline cannot take), the last slot for anything longer
const phases = []
const newPhase = (cmd) => ({
  ...cmd,
  events: 0,
  ticks: 0,
  candles: 0,
  other: 0,
  lagHist: new Uint32Array(HIST),
  lagCount: 0,
  lagSum: 0,
  lagMax: 0,
  negative: 0,
  repeats: 0
})

const needle = `"${headerName}":`
const numberAfter = (block, needle) => {
  const i = block.indexOf(needle)
  if (i < 0) return NaN
  let j = i + needle.length
  let n = 0
  let c
  while ((c = block.charCodeAt(j)) >= 48 && c <= 57) {
    n = n * 10 + (c - 48)
    j++
  }
  return j === i + needle.length ? NaN : n
}

const ingestOf = (block) => numberAfter(block, needle)
const symbolOf = (block) => {
  const i = block.indexOf('"symbol":"')
  return i < 0 ? undefined : block.slice(i + 10, block.indexOf('"', i + 10))
}

/** Is this tick a repeat on its connection (eventTime not above the last of its symbol there)? Records it. */
const repeated = (conn, block) => {
  const symbol = symbolOf(block)
  const eventTime = numberAfter(block, '"eventTime":')
  if (symbol === undefined || Number.isNaN(eventTime)) return false
  const last = conn.get(symbol)
  if (last === undefined || eventTime > last) conn.set(symbol, eventTime)
  return last !== undefined && eventTime <= last
}

const record = (p, lag) => {
  if (lag < 0) {
    p.negative++
    lag = 0
  }
  p.lagHist[Math.min(HIST - 1, lag)]++
  p.lagCount++
  p.lagSum += lag
  if (lag > p.lagMax) p.lagMax = lag
}

let closedEarly = 0
let closing = false
const totals = { events: 0, ticks: 0, candles: 0, other: 0, lastIngest: 0, repeats: 0 }
const sockets = new Set()

const onBlock = (block, received, conn) => {
  const e = block.indexOf("event: ")
  if (e < 0) return // a comment (": connected", ": ping") or the retry line
  const kind = block.startsWith("tick", e + 7) ? "tick" : block.startsWith("candle", e + 7) ? "candle" : "other"
  totals.events++
  totals[kind === "tick" ? "ticks" : kind === "candle" ? "candles" : "other"]++
  const ingest = kind === "tick" ? ingestOf(block) : NaN
  const repeat = kind === "tick" && repeated(conn, block)
  if (repeat) totals.repeats++
  if (ingest > totals.lastIngest) totals.lastIngest = ingest
  for (let k = 0; k < phases.length; k++) {
    const p = phases[k]
    if (p.by === "receipt") {
      if (received < p.from || received >= p.to) continue
      p.events++
      if (kind === "tick") {
        p.ticks++
        if (repeat) p.repeats++
        if (!Number.isNaN(ingest)) record(p, received - ingest)
      } else if (kind === "candle") p.candles++
      else p.other++
    } else if (kind === "tick" && ingest >= p.from && ingest < p.to) {
      p.events++
      p.ticks++
      if (repeat) p.repeats++
      record(p, received - ingest)
    }
  }
}

const failures = {}
const fail = (why) => (failures[why] = (failures[why] ?? 0) + 1)
const connect = () =>
  new Promise((resolve) => {
    const req = http.get(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        agent: false,
        headers: { accept: "text/event-stream" }
      },
      (res) => {
        if (res.statusCode !== 200) {
          fail(`HTTP ${res.statusCode}`)
          res.resume()
          resolve(false)
          return
        }
        res.setEncoding("utf8")
        const conn = new Map()
        let buf = ""
        res.on("data", (chunk) => {
          const received = Date.now()
          buf += chunk
          let start = 0
          let end
          while ((end = buf.indexOf("\n\n", start)) >= 0) {
            onBlock(buf.slice(start, end), received, conn)
            start = end + 2
          }
          buf = start === 0 ? buf : buf.slice(start)
        })
        res.on("close", () => {
          sockets.delete(req)
          if (!closing) closedEarly++
        })
        resolve(true)
      }
    )
    sockets.add(req)
    req.on("error", (e) => {
      fail(e.code ?? e.message)
      sockets.delete(req)
      resolve(false)
    })
  })

const t0 = performance.now()
let ok = 0
let failed = 0
let next = 0
if (args.redis) {
  const { Redis } = await import("ioredis")
  const subscriber = new Redis(args.redis)
  const conn = new Map()
  subscriber.on("message", (_channel, message) => {
    onBlock(`event: ${message.startsWith('{"_tag":"tick"') ? "tick" : "candle"}\ndata: ${message}`, Date.now(), conn)
  })
  await subscriber.subscribe(args.channel ?? "crypto:updates")
  sockets.add({ destroy: () => subscriber.disconnect() })
  next = clients
  ok = 1
}
await Promise.all(
  Array.from({ length: Math.min(concurrency, clients) }, async () => {
    while (next < clients) {
      next++
      if (await connect()) ok++
      else failed++
    }
  })
)
out({ ev: "connected", clients: ok, failed, failures, millis: Math.round(performance.now() - t0) })

/** Lag percentiles of one group of clients, from its millisecond histogram. */
const percentiles = (p) => histogramPercentiles(p.lagHist, p.lagCount, p.lagMax, p.lagSum)
const sparse = (hist) => {
  const slots = []
  for (let i = 0; i < hist.length; i++) if (hist[i] > 0) slots.push([i, hist[i]])
  return slots
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch {
    return
  }
  if (cmd.cmd === "phase") phases.push(newPhase(cmd))
  else if (cmd.cmd === "report") {
    out({
      ev: "report",
      open: sockets.size,
      closedEarly,
      totals,
      cpuSeconds: Number(((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2)),
      phases: Object.fromEntries(
        phases.map((p) => [
          p.name,
          {
            by: p.by,
            from: p.from,
            to: p.to,
            events: p.events,
            ticks: p.ticks,
            candles: p.candles,
            other: p.other,
            negativeLags: p.negative,
            repeats: p.repeats,
            lagMs: percentiles(p),
            ...(cmd.hist ? { hist: sparse(p.lagHist), lagSum: p.lagSum } : {})
          }
        ])
      )
    })
  } else if (cmd.cmd === "close") {
    closing = true
    for (const req of sockets) req.destroy()
    out({ ev: "closed" })
    setTimeout(() => process.exit(0), 50)
  }
})
