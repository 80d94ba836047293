#!/usr/bin/env node
// The operator's checkpoint state at venue rates: bytes of `encodeState` (the JSON each checkpoint writes) with
// MARKETS markets each taking RATE trades a second, for the allowed lateness and a minute more. Pure: no services.
//
//   npm run build && node bench/checkpoint-size.mjs [--markets 30] [--rate 5000] [--lateness 120000]
//
// Each market first gets 60 days of one trade per 10 minutes (so every interval's indicator state is full, as in
// a processor that has run a while), then the dense phase: ids in order, 5 trades per millisecond at 5,000/s, a hole
// of missing ids every minute and the last 100 trades delivered again every 10 seconds (a reconnect's overlap).
// Prints one JSON line: the largest state seen (sampled every 5 s of event time), the last one, and its parts.
import { parseArgs } from "../support/args.mjs"

const { accept, collect, emptyChanges, emptyState, encodeState } = await import("../dist/Domain/Operator.js")

const args = parseArgs(process.argv.slice(2)).options
const markets = Number(args.markets ?? 30)
const rate = Number(args.rate ?? 5000)
const lateness = Number(args.lateness ?? 120_000)
const start = Date.UTC(2025, 0, 1)
const historyEnd = start + 60 * 86_400_000
const denseMillis = lateness + 60_000

const names = Array.from({ length: markets }, (_, i) => `binance:C${i}-USDT`)
const state = emptyState()
const changes = emptyChanges()
// One mutable record reused for every trade: the operator keeps no reference to a tick (candles copy its numbers).
const tick = { symbol: "", coinId: "x", price: 1, volume: 1, eventTime: 0, source: "binance", ingestTime: 0 }
const send = (market, id, time, price) => {
  tick.market = market
  tick.symbol = market.slice(8, market.indexOf("-"))
  tick.tradeId = id
  tick.side = id % 2 === 0 ? "buy" : "sell"
  tick.eventTime = time
  tick.ingestTime = time + 3
  tick.price = price
  accept(state, tick, lateness, changes)
}

const nextId = names.map(() => 1)
for (let t = start; t < historyEnd; t += 600_000) {
  names.forEach((m, i) => {
    send(m, nextId[i]++, t, 100 + Math.sin(t / 3.6e6))
  })
  collect(state, changes)
}

let largest = 0
const perMilli = rate / 1000
for (let ms = 0; ms < denseMillis; ms++) {
  const time = historyEnd + ms
  names.forEach((m, i) => {
    const whole = Math.floor(perMilli * (ms + 1)) - Math.floor(perMilli * ms)
    for (let k = 0; k < whole; k++) send(m, nextId[i]++, time, 100 + Math.sin(ms / 977) + k / 1e4)
    if (ms % 10_000 === 9_999) for (let id = nextId[i] - 100; id < nextId[i]; id++) send(m, id, time, 100)
    if (ms % 60_000 === 59_999) nextId[i] += 17 // a hole (after the overlap, which must not fill it)
  })
  if (ms % 100 === 99) collect(state, changes)
  if (ms % 5_000 === 4_999) largest = Math.max(largest, encodeState(state).length)
}
collect(state, changes)
const last = encodeState(state)
largest = Math.max(largest, last.length)

const one = state.markets[names[0]]
const part = (value) => JSON.stringify(value).length
console.log(
  JSON.stringify({
    markets,
    ratePerMarket: rate,
    latenessMs: lateness,
    tradesPerMarket: nextId[0] - 1,
    largestBytes: largest,
    lastBytes: last.length,
    perMarketBytes: Math.round(last.length / markets),
    oneMarket: {
      ranges: one.trades.length / 3,
      tradesBytes: part(one.trades),
      openCandles: Object.keys(one.open).length,
      openBytes: part(one.open),
      indicatorsBytes: part(one.indicators)
    }
  })
)
