// @ts-check
// Made-up coins and ticks for the benchmarks, as the app's TickJson encodes them, published at a steady rate.
import { round } from "./statistics.mjs"
import { sleep } from "./waiting.mjs"

/** @typedef {{ symbol: string, coinId: string, price: number }} Coin */

/**
 * 50 made-up coins with valid symbols (B00…B49) and coin ids (bench-00…).
 * @param {number} n
 * @returns {Array<Coin>}
 */
export const benchSymbols = (n, prefix = "B") =>
  Array.from({ length: n }, (_, i) => ({
    symbol: `${prefix}${String(i).padStart(2, "0")}`,
    coinId: `bench-${prefix.toLowerCase()}-${String(i).padStart(2, "0")}`,
    price: 10 + i * 37.5
  }))

/**
 * A tick as the app's TickJson encodes it.
 * @param {Coin} coin
 * @param {number} price
 * @param {number} eventTime
 * @param {number} ingestTime
 */
export const tickJson = (coin, price, eventTime, ingestTime, source = "simulator") =>
  `{"symbol":"${coin.symbol}","coinId":"${coin.coinId}","price":${price},` +
  `"volume":${round(0.5 + Math.random() * 3, 4)},"eventTime":${eventTime},"source":"${source}","ingestTime":${ingestTime}}`

/**
 * Publishes ticks at `rate` per second over `coins` for `seconds`, in sends every `everyMs`; event times strictly
 * increase per symbol (the dedupe key is symbol + source + event time); ingestTime = eventTime = the send moment.
 * `onTick(symbol, eventTime)` for bookkeeping. Returns what was sent and acknowledged.
 * @param {import("kafkajs").Producer} prod
 * @param {string} topic
 * @param {ReadonlyArray<Coin>} coins
 * @param {number} rate
 * @param {number} seconds
 * @param {{ everyMs?: number, onTick?: (symbol: string, eventTime: number, now: number) => void, stopAt?: number }} [options]
 */
export const publishAtRate = async (prod, topic, coins, rate, seconds, { everyMs = 5, onTick, stopAt } = {}) => {
  const last = new Map()
  const prices = new Map(coins.map((c) => [c.symbol, c.price]))
  let sent = 0
  let acked = 0
  let failed = 0
  let lateSends = 0
  let next = 0
  /** @type {Set<Promise<unknown>>} */
  const inflight = new Set()
  const t0 = performance.now()
  const total = Math.round(rate * seconds)
  while (sent < total) {
    if (stopAt !== undefined && Date.now() >= stopAt) break
    const elapsed = performance.now() - t0
    const due = Math.min(total, Math.floor((elapsed / 1000) * rate)) - sent
    if (due > 0) {
      const nowMs = Date.now()
      /** @type {Array<{ key: string, value: string }>} */
      const messages = []
      for (let i = 0; i < due; i++) {
        const coin = /** @type {Coin} */ (coins[next++ % coins.length])
        const eventTime = Math.max(nowMs, (last.get(coin.symbol) ?? 0) + 1)
        last.set(coin.symbol, eventTime)
        const price = round(
          /** @type {number} */ (prices.get(coin.symbol)) * Math.exp((Math.random() - 0.5) * 0.002),
          6
        )
        prices.set(coin.symbol, price)
        messages.push({ key: coin.symbol, value: tickJson(coin, price, eventTime, nowMs) })
        onTick?.(coin.symbol, eventTime, nowMs)
      }
      sent += due
      const p = prod.send({ topic, acks: -1, messages }).then(
        () => (acked += messages.length),
        () => (failed += messages.length)
      )
      inflight.add(p)
      p.finally(() => inflight.delete(p))
      if (inflight.size > 200) {
        lateSends++
        await Promise.race(inflight)
      }
    }
    await sleep(everyMs)
  }
  await Promise.allSettled([...inflight])
  const seconds_ = (performance.now() - t0) / 1000
  return {
    sent,
    acked,
    failed,
    seconds: round(seconds_, 2),
    achievedRate: round(sent / seconds_, 0),
    backpressureWaits: lateSends
  }
}
