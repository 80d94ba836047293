// The venues scenario's result: figures, ratios against its baselines, and correctness checks.
import { ratio, round } from "../../support/statistics.mjs"

/** The first moment the timeline's `key` reached `n`. */
export const reached = (timeline, key, n) => timeline.find((p) => p[key] >= n)?.t

export const report = (m, { drain, relay, exits, bundle, redis }) => {
  const { ran, timeline, storedAt, publishedAt, got, stored, checkpoints, dlq, cpu } = m
  const storedSeconds = storedAt === undefined ? null : (storedAt - ran.from) / 1000
  const storedRate = storedSeconds === null ? null : round(ran.sent / storedSeconds, 0)
  const at = (f) => reached(timeline, "stored", m.markets.length + f * ran.sent)
  const [t10, t90] = [at(0.1), at(0.9)]
  const steady = t10 && t90 && t90 > t10 ? round((0.8 * ran.sent) / ((t90 - t10) / 1000), 0) : null
  const appCpu = round(cpu.producer + cpu.processor + cpu.api, 2)
  const per1k = (s) => round((1000 * s) / ran.sent, 4)
  const ckBytes = checkpoints.reduce((a, c) => a + c.bytes, 0)
  const lastStored = timeline.at(-1)?.stored ?? 0
  return {
    parameters: {
      rate: m.rate,
      seconds: m.seconds,
      markets: m.markets.length,
      venues: ["binance", "coinbase", "kraken"],
      partitions: 3,
      sseClients: 1,
      redis: redis.kind,
      fakeVenue: `test/support/FakeVenue.ts bundled by esbuild ${bundle.esbuild} (bench/lib/bundle-fake.mjs)`,
      tradeTime:
        "the fake's send moment (its clock set to Date.now() before each send); latency = SSE receipt − eventTime"
    },
    figures: {
      sent: { trades: ran.sent, rate: ran.rate, from: ran.from, to: ran.to, maxBehindPerTurn: ran.maxBehind },
      stored: {
        trades: lastStored - m.markets.length,
        secondsFromFirstSend: storedSeconds === null ? null : round(storedSeconds, 2),
        durableRate: storedRate,
        steadyRate10to90: steady,
        drainSecondsAfterLastSend: storedAt === undefined ? null : round((storedAt - ran.to) / 1000, 2),
        publishedSecondsAfterLastSend: publishedAt === undefined ? null : round((publishedAt - ran.to) / 1000, 2)
      },
      tradeToSse: { received: got.ticks, sent: ran.sent, lagMs: got.lagMs, negativeLags: got.negativeLags },
      checkpoint: { totalBytes: ckBytes, perPartition: checkpoints },
      cpuSeconds: { ...cpu, app: appCpu, appPer1kTrades: per1k(appCpu) },
      baseline: { drain, relay },
      exits
    },
    ratio: {
      durableRate: ratio(storedRate, drain.rate),
      cpuPer1kTrades: ratio(per1k(appCpu), drain.cpuSecondsPer1kRecords),
      p99TradeToSse: ratio(got.lagMs.p99, relay.lagMs.p99),
      p50TradeToSse: ratio(got.lagMs.p50, relay.lagMs.p50),
      definition:
        "durableRate: trades/s stored in Postgres (first send → all stored) ÷ the bare consumer draining the same " +
        "topic; cpuPer1kTrades: producer+processor+api CPU-seconds per 1,000 trades ÷ the bare consumer's; " +
        "p99TradeToSse: pipeline p99 ÷ the bare relay's p99 at the same rate (lower is better)"
    },
    correctness: [
      {
        check: `every trade sent stored once, per market (${stored.wrongMarkets.length} markets wrong)`,
        ok: stored.wrongMarkets.length === 0 && stored.markets === m.markets.length
      },
      { check: `no gap recorded (${stored.gaps})`, ok: stored.gaps === 0 },
      { check: `nothing in the DLQ (${dlq})`, ok: dlq === 0 },
      { check: `the SSE client got every trade (${got.ticks} of ${ran.sent})`, ok: got.ticks === ran.sent },
      {
        check: `the bare relay delivered every trade (${relay.received} of ${relay.records})`,
        ok: relay.received === relay.records
      }
    ],
    checks: stored
  }
}
