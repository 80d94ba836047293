// Three fake venues (test/support/FakeVenue.ts, bundled by bundle-fake.mjs) on loopback, pushing trades at a steady
// total rate, round robin over the markets. Its own process, so its CPU is its own and the harness's polling does not
// delay a send.
//
//   node bench/lib/fake-venues.mjs --fake <bundled FakeVenue.mjs> --markets binance:BTC-USDT,coinbase:BTC-USD,...
//   → {"ev":"ready","venues":{"binance":{"ws":…,"rest":…},…}}
//   ← {"cmd":"warm"}  waits (bounded) for a subscribed client on every venue, then one trade per market
//                     → {"ev":"warmed","t":ms,"trades":n}
//   ← {"cmd":"run","rate":R,"seconds":S}  → {"ev":"ran","from":ms,"to":ms,"sent":n,"perMarket":{m:{first,last,count}},…}
//   ← {"cmd":"close"} → {"ev":"closed"}, exit 0
//
// A trade's time is the moment it is sent: the fake is made with spacingMs 0 and its clock (a plain field of the
// tests' class) is set to Date.now() before each send, so the trade → SSE latency is the SSE receipt − eventTime.
import { createInterface } from "node:readline"
import { pathToFileURL } from "node:url"

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
setTimeout(() => process.exit(3), Number(args["max-seconds"] ?? 900) * 1000).unref()

const { startFakeVenue } = await import(pathToFileURL(args.fake).href)
const markets = args.markets.split(",")
const venueOf = (m) => m.slice(0, m.indexOf(":"))
const fakes = new Map()
for (const venue of [...new Set(markets.map(venueOf))]) {
  const mine = markets.filter((m) => venueOf(m) === venue)
  fakes.set(venue, await startFakeVenue({ venue, markets: mine, startTime: Date.now(), spacingMs: 0 }))
}
// Heartbeats, as the venues send them (Binance: a ping), so an idle connection is not closed as stale.
setInterval(() => {
  for (const f of fakes.values()) f.heartbeat()
}, 1000).unref()
out({ ev: "ready", venues: Object.fromEntries([...fakes].map(([v, f]) => [v, { ws: f.wsUrl, rest: f.restUrl }])) })

const sendNow = (market) => {
  const fake = fakes.get(venueOf(market))
  fake.clock = Date.now()
  return fake.send(market, 1)[0]
}

const warm = async () => {
  await Promise.race([
    Promise.all([...fakes.values()].map((f) => f.subscribed(1))),
    sleep(120_000).then(() => {
      throw new Error("no subscribed client on every fake venue within 120 s")
    })
  ])
  for (const m of markets) sendNow(m)
  out({ ev: "warmed", t: Date.now(), trades: markets.length })
}

const run = async (rate, seconds) => {
  const perMarket = Object.fromEntries(markets.map((m) => [m, { first: null, last: null, count: 0 }]))
  const total = Math.round(rate * seconds)
  let sent = 0
  let next = 0
  let turns = 0
  let maxBehind = 0
  const from = Date.now()
  const t0 = performance.now()
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate)) - sent
    maxBehind = Math.max(maxBehind, due)
    for (let i = 0; i < due; i++) {
      const m = markets[next++ % markets.length]
      const t = sendNow(m)
      const pm = perMarket[m]
      pm.first ??= t.tradeId
      pm.last = t.tradeId
      pm.count++
    }
    sent += Math.max(0, due)
    turns++
    await sleep(2)
  }
  const to = Date.now()
  const connections = Object.fromEntries([...fakes].map(([v, f]) => [v, f.connections()]))
  out({
    ev: "ran",
    from,
    to,
    sent,
    rate: Math.round(sent / ((to - from) / 1000)),
    turns,
    maxBehind,
    perMarket,
    connections
  })
}

createInterface({ input: process.stdin }).on("line", (line) => {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch {
    return
  }
  const fail = (e) => out({ ev: "error", message: String(e?.message ?? e) })
  if (cmd.cmd === "warm") warm().catch(fail)
  else if (cmd.cmd === "run") run(Number(cmd.rate), Number(cmd.seconds)).catch(fail)
  else if (cmd.cmd === "close") {
    Promise.all([...fakes.values()].map((f) => f.close()))
      .catch(() => undefined)
      .then(() => {
        out({ ev: "closed" })
        process.exit(0)
      })
  }
})
