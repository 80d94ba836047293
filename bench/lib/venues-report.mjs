// The venues scenario's result: figures per phase, ratios against its baselines, and correctness checks.
import { ratio, round } from "../../support/statistics.mjs"

/** The first moment the timeline's `key` reached `n`. */
export const reached = (timeline, key, n) => timeline.find((p) => p[key] >= n)?.t

const secondsBetween = (a, b) => (a === undefined || b === undefined ? null : round((b - a) / 1000, 2))

/** One phase's figures: what was sent, when it was in Kafka and in Postgres, and the SSE client's lags. */
const phaseFigures = (p) => {
  const { ran, timeline, stored, storedAt, publishedAt, got } = p
  const storedSeconds = storedAt === undefined ? null : (storedAt - ran.from) / 1000
  const publishedSeconds = publishedAt === undefined ? null : (publishedAt - ran.from) / 1000
  const at = (f) => reached(timeline, "stored", stored + f * ran.sent)
  const [t10, t90] = [at(0.1), at(0.9)]
  return {
    sent: { trades: ran.sent, rate: ran.rate, from: ran.from, to: ran.to, maxBehindPerTurn: ran.maxBehind },
    inKafka: {
      secondsFromFirstSend: publishedSeconds === null ? null : round(publishedSeconds, 2),
      rate: publishedSeconds === null ? null : round(ran.sent / publishedSeconds, 0),
      secondsAfterLastSend: secondsBetween(ran.to, publishedAt)
    },
    stored: {
      trades: (timeline.at(-1)?.stored ?? 0) - stored,
      secondsFromFirstSend: storedSeconds === null ? null : round(storedSeconds, 2),
      durableRate: storedSeconds === null ? null : round(ran.sent / storedSeconds, 0),
      steadyRate10to90: t10 && t90 && t90 > t10 ? round((0.8 * ran.sent) / ((t90 - t10) / 1000), 0) : null,
      secondsAfterLastSend: secondsBetween(ran.to, storedAt),
      afterKafkaSeconds: secondsBetween(publishedAt, storedAt)
    },
    tradeToSse: { received: got.ticks, sent: ran.sent, lagMs: got.lagMs, negativeLags: got.negativeLags }
  }
}

export const report = (
  { markets, load, latency, stored, checkpoints, dlq },
  { drain, relay, exits, bundle, redis }
) => {
  const cpu = load.cpu
  const appCpu = round(cpu.producer + cpu.processor + cpu.api, 2)
  const per1k = (s) => round((1000 * s) / load.ran.sent, 4)
  const l = phaseFigures(load)
  const lat = latency && phaseFigures(latency)
  const sseOk = (p) => p.got.ticks === p.ran.sent
  return {
    parameters: {
      rate: load.rate,
      seconds: load.seconds,
      latencyRate: latency?.rate ?? 0,
      latencySeconds: latency?.seconds ?? 0,
      markets: markets.length,
      venues: ["binance", "coinbase", "kraken"],
      partitions: 3,
      sseClients: 1,
      redis: redis.kind,
      fakeVenue: `test/support/FakeVenue.ts bundled by esbuild ${bundle.esbuild} (bench/lib/bundle-fake.mjs)`,
      tradeTime:
        "the fake's send moment (its clock set to Date.now() before each send); latency = SSE receipt − eventTime"
    },
    figures: {
      load: { ...l, cpuSeconds: { ...cpu, app: appCpu, appPer1kTrades: per1k(appCpu) } },
      latency: lat,
      checkpoint: { totalBytes: checkpoints.reduce((a, c) => a + c.bytes, 0), perPartition: checkpoints },
      baseline: { drain, relay },
      exits
    },
    ratio: {
      durableRate: ratio(l.stored.durableRate, drain.rate),
      cpuPer1kTrades: ratio(per1k(appCpu), drain.cpuSecondsPer1kRecords),
      p99TradeToSse: lat && relay ? ratio(lat.tradeToSse.lagMs.p99, relay.lagMs.p99) : null,
      p50TradeToSse: lat && relay ? ratio(lat.tradeToSse.lagMs.p50, relay.lagMs.p50) : null,
      definition:
        "durableRate: load-phase trades/s stored in Postgres (first send → all stored) ÷ the bare consumer draining " +
        "the same topic; cpuPer1kTrades: producer+processor+api CPU-seconds per 1,000 load-phase trades ÷ the bare " +
        "consumer's; p99TradeToSse: latency-phase p99 ÷ the bare relay's p99 on the same trades at the same rate " +
        "(lower is better)"
    },
    correctness: [
      {
        check: `every trade sent stored once, per market (${stored.wrongMarkets.length} markets wrong)`,
        ok: stored.wrongMarkets.length === 0 && stored.markets === markets.length
      },
      { check: `no gap recorded (${stored.gaps})`, ok: stored.gaps === 0 },
      { check: `nothing in the DLQ (${dlq})`, ok: dlq === 0 },
      { check: `the SSE client got every load trade (${load.got.ticks} of ${load.ran.sent})`, ok: sseOk(load) },
      ...(latency
        ? [
            {
              check: `the SSE client got every latency trade (${latency.got.ticks} of ${latency.ran.sent})`,
              ok: sseOk(latency)
            }
          ]
        : []),
      ...(relay
        ? [
            {
              check: `the bare relay delivered every trade (${relay.received} of ${relay.records})`,
              ok: relay.received === relay.records
            }
          ]
        : [])
    ],
    checks: stored
  }
}
