import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bollinger, ema, rsi, sma } from "../../src/Domain/Indicators.js"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"

// GET /api/candles/:symbol with fill=true and indicators=true, against the built `node dist/main.js service` fed a replay
// file with known gaps: BTC trades in minutes 0–39 of a window that ended 20 minutes ago, except minutes 12, 13 and 25–27.
const m = 60_000
const gaps = new Set([12, 13, 25, 26, 27])
const base = Math.floor(Date.now() / m) * m - 60 * m
const traded = Array.from({ length: 40 }, (_, i) => i).filter((i) => !gaps.has(i))
const priceAt = (minute: number, j: number) => 100 + 6 * Math.sin(minute / 3) + minute * 0.2 + j * 0.05

interface Candle {
  readonly bucketStart: number
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly tickCount: number
  readonly vwap: number
}
interface Indicators {
  readonly sma20: number | null
  readonly sma50: number | null
  readonly ema12: number | null
  readonly ema26: number | null
  readonly rsi14: number | null
  readonly bollinger: { readonly upper: number; readonly middle: number; readonly lower: number } | null
}
interface Series {
  readonly symbol: string
  readonly interval: string
  readonly candles: Array<Candle>
  readonly indicators?: Array<Indicators>
}

describe("GET /api/candles: fill and indicators (built dist/main.js service, replayed gaps)", () => {
  let svc: Running
  let dir: string
  const get = async (query: string) => {
    const res = await fetch(`${svc.url}/api/candles/BTC?${query}`)
    return { status: res.status, body: (await res.json()) as Series & { error?: string; details?: unknown } }
  }
  const minute = (c: Candle) => (c.bucketStart - base) / m

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "candles-api-"))
    const file = join(dir, "gaps.ndjson")
    const lines = traded.flatMap((i) =>
      [0, 1, 2].map((j) =>
        JSON.stringify({
          coinId: "bitcoin",
          symbol: "BTC",
          price: priceAt(i, j),
          volume: 1 + j,
          eventTime: base + i * m + j * 10_000
        })
      )
    )
    writeFileSync(file, `${lines.join("\n")}\n`)
    svc = await startCli(["service"], {
      SOURCE: `replay:${file}`,
      REPLAY_SPEED: "max",
      CHECKPOINT_INTERVAL: "1 second"
    })
    await eventually(
      async () => {
        const { body } = await get("interval=1m")
        return body.candles?.length === traded.length ? true : undefined
      },
      60_000,
      `${traded.length} BTC 1m candles`
    )
  }, 90_000)

  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })

  it("fills every empty bucket with the last close and zero volume; real candles are unchanged", async () => {
    const plain = (await get("interval=1m")).body.candles
    const { status, body } = await get("interval=1m&fill=true")
    expect(status).toBe(200)
    expect(body.candles.map(minute)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    for (const c of body.candles) {
      const real = plain.find((p) => p.bucketStart === c.bucketStart)
      if (real !== undefined) {
        expect(c).toEqual(real)
        continue
      }
      expect(gaps.has(minute(c)), `minute ${minute(c)}`).toBe(true)
      const before = plain.filter((p) => p.bucketStart < c.bucketStart).at(-1)!
      expect([c.open, c.high, c.low, c.close, c.vwap]).toEqual(Array(5).fill(before.close))
      expect(c.volume).toBe(0)
      expect(c.tickCount).toBe(0)
    }
    // without fill, the gaps are gaps
    expect(plain.map(minute)).toEqual(traded)
  })

  it("fills between from and to: leading buckets from the candle before from, trailing ones up to to", async () => {
    // from inside the 12–13 gap (not on a boundary): minute 13 is filled from minute 11, found before `from`
    const inGap = await get(`interval=1m&fill=true&from=${base + 12 * m + 30_000}&to=${base + 16 * m}`)
    expect(inGap.body.candles.map(minute)).toEqual([13, 14, 15])
    expect(inGap.body.candles[0]!.close).toBe(priceAt(11, 2))
    expect(inGap.body.candles[0]!.tickCount).toBe(0)

    // before the first trade there is no price to carry: those buckets are left out; after the last, `to` bounds it
    const wide = await get(`interval=1m&fill=true&from=${base - 5 * m}&to=${base + 45 * m}`)
    expect(wide.body.candles.map(minute)).toEqual(Array.from({ length: 45 }, (_, i) => i))
    for (const c of wide.body.candles.filter((c) => minute(c) >= 40)) {
      expect(c.close).toBe(priceAt(39, 2))
      expect(c.volume).toBe(0)
    }

    // never past now: with `to` an hour ahead, the last bucket is the current minute
    const before = Math.floor(Date.now() / m) * m
    const future = await get(`interval=1m&fill=true&from=${base}&to=${Date.now() + 3600_000}`)
    const after = Math.floor(Date.now() / m) * m
    const last = future.body.candles.at(-1)!.bucketStart
    expect(last).toBeGreaterThanOrEqual(before)
    expect(last).toBeLessThanOrEqual(after)
  })

  it("applies limit to the filled buckets: the newest ones", async () => {
    const { body } = await get(`interval=1m&fill=true&limit=4&to=${base + 28 * m}`)
    expect(body.candles.map(minute)).toEqual([24, 25, 26, 27])
    expect(body.candles.slice(1).map((c) => c.close)).toEqual([priceAt(24, 2), priceAt(24, 2), priceAt(24, 2)])
  })

  it("adds the indicator values of each candle, aligned with the candles, as the processor computed them", async () => {
    const plain = await get("interval=1m")
    expect(plain.body.indicators).toBeUndefined()
    const { body } = await get("interval=1m&indicators=true")
    expect(body.indicators).toHaveLength(body.candles.length)
    const closes: Array<number> = []
    for (const [i, c] of body.candles.entries()) {
      closes.push(c.close)
      const v = body.indicators![i]!
      const near = (actual: number | null, expected: number | null, what: string) => {
        if (expected === null) expect(actual, `${what} at minute ${minute(c)}`).toBeNull()
        else expect(actual, `${what} at minute ${minute(c)}`).toBeCloseTo(expected, 6)
      }
      near(v.sma20, sma(closes, 20), "sma20")
      near(v.sma50, sma(closes, 50), "sma50")
      near(v.ema12, ema(closes, 12), "ema12")
      near(v.ema26, ema(closes, 26), "ema26")
      near(v.rsi14, rsi(closes, 14), "rsi14")
      near(v.bollinger?.upper ?? null, bollinger(closes, 20, 2)?.upper ?? null, "bollinger upper")
      near(v.bollinger?.lower ?? null, bollinger(closes, 20, 2)?.lower ?? null, "bollinger lower")
    }
    expect(body.indicators!.filter((v) => v.sma20 !== null).length).toBeGreaterThanOrEqual(10)

    // filled: still aligned, and an empty bucket repeats the last real candle's values
    const filled = (await get("interval=1m&fill=true&indicators=true")).body
    expect(filled.indicators).toHaveLength(filled.candles.length)
    for (const [i, c] of filled.candles.entries()) {
      const real = body.candles.findIndex((r) => r.bucketStart === c.bucketStart)
      const source = real >= 0 ? real : body.candles.filter((r) => r.bucketStart < c.bucketStart).length - 1
      expect(filled.indicators![i], `minute ${minute(c)}`).toEqual(body.indicators![source])
    }
  })

  it("answers a bad parameter with a 400 whose JSON body names it", async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["fill=yes", "fill"],
      ["indicators=1", "indicators"],
      ["interval=7m", "interval"],
      ["limit=0", "limit"],
      ["limit=5001", "limit"],
      ["from=yesterday", "from"],
      ["to=soon", "to"],
      [`from=${base + m}&to=${base}`, "from"],
      [`from=${base}&to=${base}`, "from"]
    ]
    for (const [query, param] of cases) {
      const res = await fetch(`${svc.url}/api/candles/BTC?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.headers.get("content-type"), query).toContain("application/json")
      const body = (await res.json()) as { error: string; details: unknown }
      expect(body.error, query).toMatch(new RegExp(`^invalid ${param}\\b`))
      expect(body.details, query).toBeDefined()
    }
  })

  it("documents fill and indicators in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { parameters: Array<{ name: string; in: string }> } }>
    }
    const params = doc.paths["/api/candles/{symbol}"]!.get.parameters.filter((p) => p.in === "query").map((p) => p.name)
    expect(params).toEqual(expect.arrayContaining(["interval", "from", "to", "limit", "fill", "indicators"]))
  })
})
