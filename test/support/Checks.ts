import { CandleCheck, type CheckResult } from "../../src/Domain/Completeness.js"
import { Kline } from "../../src/Domain/Kline.js"
import type { Market } from "../../src/Domain/Market.js"

// Klines and checks for the store and API tests, built by hand (not through src/Domain/Check.ts).

export const kline = (market: string, bucketStart: number, over: Partial<Kline> = {}) =>
  new Kline({
    type: "kline",
    market: market as Market,
    interval: "1m",
    bucketStart,
    open: "100.5",
    high: "101",
    low: "99.25",
    close: "100",
    volume: "3.5",
    firstTradeId: 10,
    lastTradeId: 14,
    tradeCount: 5,
    receivedAt: bucketStart + 61_000,
    ...over
  })

const ours = {
  open: 100.5,
  high: 101,
  low: 99.25,
  close: 100,
  volume: 3.5,
  tickCount: 5,
  firstTradeId: 10,
  lastTradeId: 14
}

/** A check of `result` on the minute at `bucketStart`, with plausible candles on both sides. */
export const candleCheck = (market: string, bucketStart: number, result: CheckResult) =>
  new CandleCheck({
    market: market as Market,
    interval: "1m",
    bucketStart,
    result,
    mismatched: result === "mismatch" ? ["close", "lastTradeId"] : [],
    ours: result === "missing" ? null : result === "mismatch" ? { ...ours, close: 100.01, lastTradeId: 13 } : ours,
    theirs: kline(market, bucketStart, result === "missing" ? { tradeCount: 1, firstTradeId: 9, lastTradeId: 9 } : {}),
    gaps: result === "gap" ? [{ fromId: 12, toId: 12 }] : [],
    checkedAt: bucketStart + 125_000
  })
