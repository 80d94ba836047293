// Ticks on a fixed schedule, for the latency and fanout scenarios: tick i is due at t0 + i / rate and carries that
// moment (ms) as its ingestTime, whenever it actually leaves. A publisher that stalls (a slow send, a busy event
// loop, a full machine) then shows up as latency at the receiver instead of shifting its own clock with it.
import { round } from "../../support/statistics.mjs"
import { tickJson } from "../../support/ticks.mjs"
import { sleep } from "../../support/waiting.mjs"

/**
 * Publishes `rate × seconds` ticks over `coins`, round robin, each batch of due ticks through `send(batch)` (a
 * promise; at most `maxInflight` unsettled, then it waits: the schedule keeps running and the wait shows as lag).
 * Event times strictly increase per symbol (the dedupe key is symbol + source + event time).
 * `onTick(intendedMs, symbol)` for bookkeeping. Returns what was sent, and how late the sends ran behind the schedule.
 * @param {{ coins: ReadonlyArray<{ symbol: string, coinId: string, price: number }>, rate: number, seconds: number,
 *   send: (batch: Array<{ key: string, value: string }>) => Promise<unknown>, startAt?: number, everyMs?: number,
 *   maxInflight?: number, onTick?: (intendedMs: number, symbol: string) => void }} options
 */
export const publishOnSchedule = async (options) => {
  const { coins, rate, seconds, send, everyMs = 1, maxInflight = 200, onTick } = options
  const t0 = options.startAt ?? Date.now() + 20
  const interval = 1000 / rate
  const total = Math.round(rate * seconds)
  const last = new Map()
  const prices = new Map(coins.map((c) => [c.symbol, c.price]))
  /** @type {Set<Promise<unknown>>} */
  const inflight = new Set()
  let sent = 0
  let acked = 0
  let failed = 0
  let waits = 0
  let maxSlipMs = 0
  let next = 0
  if (t0 > Date.now()) await sleep(t0 - Date.now())
  while (sent < total) {
    const now = Date.now()
    // Every tick whose moment has come: a late loop sends the backlog at once, stamped as it should have been.
    const due = Math.min(total, Math.floor((now - t0) / interval) + 1) - sent
    if (due > 0) {
      maxSlipMs = Math.max(maxSlipMs, now - (t0 + sent * interval))
      const batch = []
      for (let k = 0; k < due; k++) {
        const intended = Math.round(t0 + (sent + k) * interval)
        const coin = coins[next++ % coins.length]
        const eventTime = Math.max(intended, (last.get(coin.symbol) ?? 0) + 1)
        last.set(coin.symbol, eventTime)
        const price = round(prices.get(coin.symbol) * Math.exp((Math.random() - 0.5) * 0.002), 6)
        prices.set(coin.symbol, price)
        batch.push({ key: coin.symbol, value: tickJson(coin, price, eventTime, intended) })
        onTick?.(intended, coin.symbol)
      }
      sent += due
      const p = send(batch).then(
        () => (acked += batch.length),
        () => (failed += batch.length)
      )
      inflight.add(p)
      p.finally(() => inflight.delete(p))
      if (inflight.size >= maxInflight) {
        waits++
        await Promise.race(inflight)
      }
    }
    await sleep(everyMs)
  }
  await Promise.allSettled([...inflight])
  const elapsed = (Date.now() - t0) / 1000
  return {
    sent,
    acked,
    failed,
    seconds: round(elapsed, 2),
    achievedRate: round(sent / elapsed, 0),
    maxSlipMs: round(maxSlipMs, 0),
    inflightWaits: waits
  }
}

/** Tick messages as the processor PUBLISHes them on the live channel (`{"_tag":"tick","tick":…}`), via ioredis. */
// As the processor's cache writer sends its updates (src/Cache/Redis.ts): each PUBLISHed and XADDed to the stream the
// service's feed reads (its SSE ids are the stream's), trimmed once per call.
const publishAndAdd = `for i = 2, #ARGV do
  redis.call('PUBLISH', KEYS[1], ARGV[i])
  redis.call('XADD', KEYS[2], '*', 'u', ARGV[i])
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[1])`

/**
 * Ticks as live updates on Redis: PUBLISHed on `channel` (a bare broadcaster's), or, with `stream` (the service's
 * `crypto:events`), written as the processor writes them: PUBLISH + XADD in one script, the stream trimmed to 10,000.
 */
export const redisSender = (redis, channel, stream) => (batch) => {
  const messages = batch.map((m) => `{"_tag":"tick","tick":${m.value}}`)
  if (stream !== undefined) return redis.eval(publishAndAdd, 2, channel, stream, 10_000, ...messages)
  const pipeline = redis.pipeline()
  for (const m of messages) pipeline.publish(channel, m)
  return pipeline.exec()
}

/** Ticks to a Kafka topic, keyed by symbol, acks from all replicas (as the app's producer). */
export const kafkaSender = (prod, topic) => (messages) => prod.send({ topic, acks: -1, messages })

/** `KEY=VAL[,KEY=VAL]` (the `--app-env` option) as an environment object; names as environment variables are. */
export const parseEnvList = (text) => {
  if (text === undefined || text === true || text === "") return {}
  const env = {}
  for (const pair of String(text).split(",")) {
    const eq = pair.indexOf("=")
    const key = pair.slice(0, eq).trim()
    if (eq <= 0 || !/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`--app-env wants KEY=VAL[,KEY=VAL], got "${pair}"`)
    env[key] = pair.slice(eq + 1)
  }
  return env
}

/** Median and spread (min, max) of a list of numbers; nulls left out. */
export const summary = (values, digits = 1) => {
  const xs = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b)
  if (xs.length === 0) return { n: 0 }
  const mid = Math.floor(xs.length / 2)
  const median = xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
  return { n: xs.length, median: round(median, digits), min: round(xs[0], digits), max: round(xs.at(-1), digits) }
}
