import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Market } from "../../src/Domain/Market.js"
import { eventually, sleep } from "../../support/waiting.mjs"
import { type FakeVenue, startFakeVenue } from "../support/FakeVenue.js"
import * as S from "./completenessScenario.js"
import { type Running, startCli, untilHealthy } from "./support.js"

// Issue 16's "Done when", on embedded adapters: `node dist/main.js service` with SOURCE=binance against the fake venue,
// whose klines are folded from its own trades. After random disconnects and fillable gaps, every check is a match and
// every final 1m candle has one; the minute of an unfilled gap is a `gap` candle with a `gap` check; a corrupted kline
// and a phantom trade are mismatches naming the fields.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

interface Check {
  readonly bucketStart: number
  readonly result: string
  readonly mismatched: ReadonlyArray<string>
}
interface Candle {
  readonly bucketStart: number
  readonly status: string
  readonly gaps: ReadonlyArray<unknown>
}

const json = async <A>(url: string): Promise<A> => {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as A
}
const range = `from=${S.startTime}&to=${S.startTime + 86_400_000}&limit=1000`
const checksOf = async (url: string, market: Market) => {
  const body = await json<{ summary: Record<string, number>; checks: ReadonlyArray<Check> }>(
    `${url}/api/markets/${encodeURIComponent(market)}/checks?${range}`
  )
  const checks = [...body.checks].sort((a, b) => a.bucketStart - b.bucketStart)
  return { summary: body.summary, checks }
}
const candlesOf = async (url: string, market: Market, final = false) => {
  const body = await json<{ candles: ReadonlyArray<Candle> }>(
    `${url}/api/candles/${encodeURIComponent(market)}?interval=1m&${range}${final ? "&final=true" : ""}`
  )
  return body.candles
}
const plain = (checks: ReadonlyArray<Check>) =>
  checks.map((c) => ({ bucketStart: c.bucketStart, result: c.result, mismatched: c.mismatched }))
const iso = (ms: number) => new Date(ms).toISOString().slice(11, 16)

describe("SOURCE=binance against the fake venue: candles checked against its klines (service, embedded)", () => {
  let fake: FakeVenue
  let svc: Running

  beforeAll(async () => {
    // Two seconds apart: a market's trades span several minutes, each with a kline.
    fake = await startFakeVenue({ venue: "binance", markets: S.markets, startTime: S.startTime, spacingMs: 2000 })
    svc = await startCli(["service"], {
      SOURCE: "binance",
      MARKETS: S.markets.join(","),
      BINANCE_WS_URL: fake.wsUrl,
      BINANCE_REST_URL: fake.restUrl,
      CHECKPOINT_INTERVAL: "500 millis",
      ALLOWED_LATENESS: `${S.lateness / 1000} seconds`
    })
    await untilHealthy(svc)
  }, 180_000)

  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    await fake?.close()
  })

  it("clean: all match; unfilled gap: gap candle and check; corrupted kline and phantom trade: mismatch", async () => {
    await fake.subscribed(1)
    for (const m of S.markets) fake.send(m, 1)
    const steps = S.schedule(seed, 60)
    console.log(`schedule: ${S.describeSchedule(steps)}`)
    await S.play(fake, steps)
    await sleep(500)
    await fake.subscribed(1)
    // Enough of every market's trades that its last kline closes our candle too (past its minute plus the lateness).
    for (let i = 0; i < 15; i++) for (const m of S.markets) fake.send(m, 1)
    const expected = new Map(S.markets.map((m) => [m, S.expectedChecks(fake, m)] as const))
    const report = async () => {
      const lines: Array<string> = []
      for (const m of S.markets) {
        const got = (await checksOf(svc.url, m).catch(() => ({ checks: [] }))).checks
        const want = expected.get(m) ?? []
        lines.push(`${m}: ${got.length} checks of ${want.length} expected`)
        for (const w of want) {
          const g = got.find((c) => c.bucketStart === w.bucketStart)
          if (g?.result !== w.result)
            lines.push(`  ${iso(w.bucketStart)} want ${w.result}, got ${g?.result ?? "none"}: ${JSON.stringify(g)}`)
        }
      }
      return lines.join("\n")
    }
    await eventually(
      async () => {
        for (const m of S.markets) {
          const { checks } = await checksOf(svc.url, m)
          if (checks.length < (expected.get(m) ?? []).length) return undefined
        }
        return true
      },
      120_000,
      "every check"
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await report()}\n${svc.output().slice(-4000)}`)
    })
    for (const m of S.markets) {
      const { summary, checks } = await checksOf(svc.url, m)
      const want = expected.get(m) ?? []
      const early = checks.filter((c) => want.some((w) => w.bucketStart === c.bucketStart))
      expect(plain(early), `${m}\n${await report()}`).toEqual(want)
      // Checks of later minutes (closed by the last trades, not yet counted in `want`) match too.
      expect(
        checks.filter((c) => !early.includes(c)).every((c) => c.result === "match"),
        m
      ).toBe(true)
      expect(summary["missing"] ?? 0, m).toBe(0)
      // Every final candle has its check; the minute of the unfilled gap is a gap candle.
      const final = await candlesOf(svc.url, m, true)
      expect(
        final.every((c) => c.status === "final" || c.status === "gap"),
        m
      ).toBe(true)
      expect(final.length, m).toBeGreaterThan(3)
      const checked = new Set(checks.map((c) => c.bucketStart))
      expect(
        final.filter((c) => !checked.has(c.bucketStart)).map((c) => iso(c.bucketStart)),
        m
      ).toEqual([])
      const gapped = final.filter((c) => c.status === "gap").map((c) => c.bucketStart)
      expect(gapped, m).toEqual(checks.filter((c) => c.result === "gap").map((c) => c.bucketStart))
    }
    const results = (m: Market) => (expected.get(m) ?? []).map((w) => w.result)
    expect(new Set(results(S.clean))).toEqual(new Set(["match"]))
    expect(results(S.gapped)).toContain("gap")
    expect(plain((await checksOf(svc.url, S.tampered)).checks).filter((c) => c.result === "mismatch")).toEqual([
      expect.objectContaining({ mismatched: ["high"] }),
      expect.objectContaining({ mismatched: ["volume", "lastTradeId"] })
    ])
    expect((await svc.stop("SIGTERM")).code, svc.output()).toBe(0)
  }, 240_000)
})
