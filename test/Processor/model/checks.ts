import type { SqlClient } from "@effect/sql"
import { expect } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { BusShape } from "../../../src/Bus/Bus.js"
import { candleDifferences, storedCandle } from "../../support/Reference.js"
import type { Expected } from "./input.js"

/**
 * The record after a schedule, against what the input must give: every accepted tick once and nothing else, every
 * candle field equal to the reference fold (so a tick counted twice shows in tickCount, volume and vwap, even though
 * the ticks table's key hides a second insert), and every bad record in the DLQ topic and in `dead_letters` once.
 */
export const checkRecord = (
  sql: SqlClient.SqlClient,
  bus: BusShape,
  topic: string,
  symbols: Array<string>,
  input: Expected
) =>
  Effect.gen(function* () {
    const ticks = yield* sql<{ symbol: string; source: string; eventTime: Date; price: number; n: number }>`
      SELECT symbol, source, event_time, min(price) AS price, count(*)::int AS n FROM ticks
      WHERE ${sql.in("symbol", symbols)} GROUP BY symbol, source, event_time`
    const key = (t: { symbol: string; source: string; eventTime: number }) =>
      JSON.stringify([t.symbol, t.source, t.eventTime])
    const stored = new Map(ticks.map((t) => [key({ ...t, eventTime: t.eventTime.getTime() }), t] as const))
    const accepted = new Map(input.accepted.map((t) => [key(t), t] as const))
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

    const candles = yield* sql<Record<string, unknown>>`SELECT * FROM candles WHERE ${sql.in("symbol", symbols)}`
    expect(candleDifferences(candles.map(storedCandle), input.reference), "candles against the reference").toEqual([])

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
    const recorded = yield* sql<{ reason: string; partition: number; offset: string }>`
      SELECT reason, partition, "offset" FROM dead_letters WHERE topic = ${topic}`
    expect(new Map(recorded.map((r) => [`${r.partition}/${r.offset}`, r.reason])), "dead_letters").toEqual(dead)
  })
