import type { SqlClient } from "@effect/sql"
import { expect } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { BusShape } from "../../../src/Bus/Bus.js"
import { candleDifferences, referenceMarket, storedCandle } from "../../support/Reference.js"
import type { Expected } from "./input.js"

/**
 * The record after a schedule, against what the input must give: every accepted tick once and nothing else, every
 * candle field equal to the reference fold (so a tick counted twice shows in tickCount, volume and vwap, even though
 * the ticks table's key hides a second insert), every gap once, each market's row with its first and last event
 * times, and every bad record in the DLQ topic and in `dead_letters` once.
 */
export const checkRecord = (
  sql: SqlClient.SqlClient,
  bus: BusShape,
  topic: string,
  symbols: Array<string>,
  input: Expected
) =>
  Effect.gen(function* () {
    const markets = symbols.flatMap((s) => [`coingecko:${s}-USD`, `simulator:${s}-USD`, `binance:${s}-USDT`])
    const ticks = yield* sql<{
      market: string
      source: string
      eventTime: Date
      tradeId: string
      side: string | null
      price: number
      n: number
    }>`
      SELECT market, source, event_time, trade_id, side, min(price) AS price, count(*)::int AS n FROM ticks
      WHERE ${sql.in("market", markets)} GROUP BY market, source, event_time, trade_id, side`
    const key = (t: {
      market: string | undefined
      source: string
      eventTime: number
      tradeId: number
      side: unknown
    }) => JSON.stringify([t.market, t.source, t.eventTime, t.tradeId, t.side])
    const stored = new Map(
      ticks.map((t) => [key({ ...t, eventTime: t.eventTime.getTime(), tradeId: Number(t.tradeId) }), t] as const)
    )
    const accepted = new Map(
      input.accepted.map(
        (t) => [key({ ...t, market: referenceMarket(t), tradeId: t.tradeId ?? -1, side: t.side ?? null }), t] as const
      )
    )
    expect(
      ticks.filter((t) => t.n !== 1),
      "a tick stored more than once"
    ).toEqual([])
    expect(
      [...stored.keys()].filter((k) => !accepted.has(k)),
      "ticks stored that were not accepted"
    ).toEqual([])
    expect(
      [...accepted.keys()].filter((k) => !stored.has(k)),
      "accepted ticks missing"
    ).toEqual([])
    for (const [k, t] of accepted) expect(stored.get(k)?.price, `price of ${k}`).toBe(t.price)

    const candles = yield* sql<Record<string, unknown>>`SELECT * FROM candles WHERE ${sql.in("market", markets)}`
    expect(candleDifferences(candles.map(storedCandle), input.reference), "candles against the reference").toEqual([])
    yield* checkMarkets(sql, markets, input)

    // Every malformed and late record is in the DLQ topic with its reason (at least once: a kill may repeat one) …
    const dead = new Map<string, string>()
    yield* bus
      .consume({ topic: `${topic}.dlq`, groupId: `check-${topic}`, onAssign: () => Effect.succeed(new Map()) })
      .pipe(
        Stream.interruptAfter("50 millis"),
        Stream.runForEach((e) =>
          Effect.sync(() => {
            if (e._tag !== "Records") return
            for (const r of e.records) {
              const d = JSON.parse(r.value) as { reason: string; partition: number; offset: number }
              dead.set(`${d.partition}/${d.offset}`, d.reason)
            }
          })
        )
      )
    const reasons = [...dead.values()]
    expect(reasons.filter((r) => r === "decode").length, "undecodable records in the DLQ").toBe(input.malformed)
    expect(reasons.filter((r) => r === "late").length, "late records in the DLQ").toBe(input.late)
    expect(reasons.length, "DLQ reasons").toBe(input.malformed + input.late)
    // … and recorded in Postgres exactly once, by the checkpoint that moved past them (the key is the record's offset).
    const recorded = yield* sql<{ reason: string; partition: number; offset: string; market: string | null }>`
      SELECT reason, partition, "offset", market FROM dead_letters WHERE topic = ${topic}`
    expect(new Map(recorded.map((r) => [`${r.partition}/${r.offset}`, r.reason])), "dead_letters").toEqual(dead)
    // A late tick's letter names its market; an undecodable record has none.
    expect(
      recorded.filter((r) => (r.reason === "late" ? !markets.includes(r.market ?? "") : r.market !== null)),
      "dead letters' markets"
    ).toEqual([])
  })

/** Every gap once (a replay after a crash stores none again), and each market's first and last event times. */
const checkMarkets = (sql: SqlClient.SqlClient, markets: Array<string>, input: Expected) =>
  Effect.gen(function* () {
    const gaps = yield* sql<{ market: string; fromId: string; toId: string; fromTime: Date; toTime: Date; n: number }>`
      SELECT market, from_id, to_id, min(from_time) AS from_time, min(to_time) AS to_time, count(*)::int AS n
      FROM gaps WHERE ${sql.in("market", markets)} GROUP BY market, from_id, to_id ORDER BY market, from_id`
    const expectedGaps = [...input.gaps]
      .sort((a, b) => (a.market < b.market ? -1 : a.market > b.market ? 1 : a.fromId - b.fromId))
      .map((g) => ({ market: g.market, fromId: g.fromId, toId: g.toId, fromTime: g.fromTime, toTime: g.toTime, n: 1 }))
    expect(
      gaps.map((g) => ({
        ...g,
        fromId: Number(g.fromId),
        toId: Number(g.toId),
        fromTime: g.fromTime.getTime(),
        toTime: g.toTime.getTime()
      })),
      "gaps, each once"
    ).toEqual(expectedGaps)

    const rows = yield* sql<{ market: string; kind: string; first: Date | null; last: Date | null }>`
      SELECT market, kind, first_event_time AS first, last_event_time AS last FROM markets
      WHERE ${sql.in("market", markets)} ORDER BY market`
    const span = new Map<string, { first: number; last: number }>()
    for (const t of input.accepted) {
      const m = referenceMarket(t)!
      const s = span.get(m)
      span.set(m, { first: Math.min(s?.first ?? t.eventTime, t.eventTime), last: Math.max(s?.last ?? 0, t.eventTime) })
    }
    for (const g of input.gaps) if (!span.has(g.market)) span.set(g.market, { first: Number.NaN, last: Number.NaN })
    expect(
      rows.map((r) => ({
        market: r.market,
        kind: r.kind,
        first: r.first?.getTime() ?? Number.NaN,
        last: r.last?.getTime() ?? Number.NaN
      })),
      "markets rows"
    ).toEqual(
      [...span]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([market, s]) => ({ market, kind: market.startsWith("binance:") ? "trades" : "sample", ...s }))
    )
  })
