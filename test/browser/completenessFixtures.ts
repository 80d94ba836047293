import type { Page, Route } from "playwright-core"

// The answers a completeness-aware server gives for one market (docs/completeness.md "HTTP"), written out by hand so
// the dashboard can be shown every case at once: provisional, final and gap candles, a filled bucket inside a listed gap,
// checks with mismatches. Served with page.route in place of the service's own answers for that market only.

export const MINUTE = 60_000
const N = 40

export interface Fixture {
  readonly market: string
  readonly buckets: ReadonlyArray<number>
  readonly candles: ReadonlyArray<Record<string, unknown>>
  readonly gaps: ReadonlyArray<Record<string, unknown>>
  readonly checks: Record<string, unknown>
  /** Indexes: the gap candle, the filled bucket inside a listed gap, the provisional ones. */
  readonly gapIdx: number
  readonly filledIdx: number
  readonly provisionalIdx: ReadonlyArray<number>
}

/** N 1m candles of `market` ending with the current minute. */
export const fixture = (market: string, now: number): Fixture => {
  const symbol = market.slice(market.indexOf(":") + 1, market.indexOf("-"))
  const last = Math.floor(now / MINUTE) * MINUTE
  const buckets = Array.from({ length: N }, (_, k) => last - (N - 1 - k) * MINUTE)
  const gapIdx = 15
  const filledIdx = 25
  const provisionalIdx = [N - 3, N - 2, N - 1]
  let id = 7000
  let close = 3000
  const candles = buckets.map((bucketStart, k) => {
    const open = close
    if (k !== filledIdx) close = Math.round((open + 12 * Math.sin(k * 1.7) + 3) * 100) / 100
    const filled = k === filledIdx
    const firstTradeId = filled ? null : id + 1
    id += filled ? 0 : k === gapIdx ? 8 : 5 // the gap candle: 3 of its 8 ids are missing
    return {
      market,
      symbol,
      interval: "1m",
      bucketStart,
      open,
      high: Math.max(open, close) + (filled ? 0 : 4),
      low: Math.min(open, close) - (filled ? 0 : 4),
      close,
      volume: filled ? 0 : 1.5 + (k % 4),
      tickCount: filled ? 0 : k === gapIdx ? 5 : 5,
      vwap: (open + close) / 2,
      status: provisionalIdx.includes(k) ? "provisional" : k === gapIdx ? "gap" : "final",
      gaps: k === gapIdx ? [{ fromId: 7079, toId: 7081 }] : [],
      firstTradeId,
      lastTradeId: filled ? null : id
    }
  })
  const gap = (fromId: number, toId: number, fromTime: number, toTime: number, reason: string) => ({
    type: "gap",
    market,
    fromId,
    toId,
    fromTime,
    toTime,
    reason,
    detectedAt: toTime + 900
  })
  const gaps = [
    // newest first, as the endpoint lists them
    gap(9100, 9180, buckets[filledIdx]! + 5_000, buckets[filledIdx]! + 50_000, "rest-failed"),
    gap(7079, 7081, buckets[gapIdx]! + 10_000, buckets[gapIdx]! + 20_000, "not-served")
  ]
  const check = (k: number, result: string, mismatched: Array<string>) => ({
    market,
    interval: "1m",
    bucketStart: buckets[k],
    result,
    mismatched,
    ours: null,
    theirs: null,
    gaps: [],
    checkedAt: buckets[k]! + 3 * MINUTE
  })
  const checks = {
    market,
    summary: { match: 33, mismatch: 2, gap: 1, missing: 0 },
    checks: [
      check(20, "mismatch", ["close", "volume"]),
      check(gapIdx, "gap", []),
      check(12, "mismatch", ["lastTradeId"])
    ]
  }
  return { market, buckets, candles, gaps, checks, gapIdx, filledIdx, provisionalIdx }
}

const json = (route: Route, body: unknown, status = 200) =>
  route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) })

/** The market's candles, gaps and checks answered from the fixture (`candles` may be changed between requests). */
export const serveFixture = async (
  page: Page,
  f: Fixture,
  opts: { readonly candles?: () => ReadonlyArray<Record<string, unknown>>; readonly checks?: boolean } = {}
) => {
  const path = (url: URL) => decodeURIComponent(url.pathname)
  await page.route(
    (url) => path(url) === `/api/candles/${f.market}`,
    (route) => {
      const u = new URL(route.request().url())
      return json(route, {
        market: f.market,
        symbol: f.market.slice(f.market.indexOf(":") + 1, f.market.indexOf("-")),
        interval: u.searchParams.get("interval"),
        candles: (opts.candles ?? (() => f.candles))()
      })
    }
  )
  await page.route(
    (url) => path(url) === `/api/markets/${f.market}/gaps`,
    (route) => json(route, { market: f.market, gaps: f.gaps })
  )
  await page.route(
    (url) => path(url) === `/api/markets/${f.market}/checks`,
    (route) => (opts.checks === false ? json(route, { error: "not found" }, 404) : json(route, f.checks))
  )
}

/** A promise with its resolve, for holding a request until the test lets it go. */
export const gate = () => {
  let open: () => void = () => undefined
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

export const sse = (route: Route, body: string) =>
  route.fulfill({ status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" }, body })
