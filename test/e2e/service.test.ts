import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, readEvents, startCli, untilHealthy } from "./support.js"

// The built CLI on embedded adapters, exactly as `npm start` runs it.
describe("service (embedded, built dist/main.js)", () => {
  let svc: Running

  beforeAll(async () => {
    svc = await startCli(["service"], { SIMULATOR_RATE: "5", CHECKPOINT_INTERVAL: "1 second" })
    await untilHealthy(svc)
  }, 180_000)

  afterAll(async () => {
    if (svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
  })

  it("serves the dashboard's domain rules as a module, written from src/Domain's (no copy in public/)", async () => {
    const res = await fetch(`${svc.url}/static/domain.js`)
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/)
    const text = await res.text()
    // The rules as the test knows them from the API's contract: upper-case tickers of 1-15 letters or digits.
    const symbol = new RegExp(JSON.parse(text.match(/new RegExp\(("(?:[^"\\]|\\.)*")\)/)?.[1] ?? '""'))
    expect(["BTC", "USDC", "1INCH"].every((s) => symbol.test(s))).toBe(true)
    expect(["btc", "", "BTC-USD", "A".repeat(16)].some((s) => symbol.test(s))).toBe(false)
    expect(JSON.parse(text.match(/INTERVALS = (\{.*\})/)?.[1] ?? "{}")).toEqual({
      "1m": 60,
      "5m": 300,
      "15m": 900,
      "1h": 3600,
      "1d": 86400
    })
  })

  it("serves the latest simulated price of every default coin", async () => {
    const body = await eventually(
      async () => {
        const res = await fetch(`${svc.url}/api/latest`)
        const json = (await res.json()) as { prices: Array<{ symbol: string; price: number; source: string }> }
        return json.prices.length >= 10 ? json : undefined
      },
      30_000,
      "10 prices at /api/latest"
    )
    expect(body.prices.map((p) => p.symbol).sort()).toEqual([
      "ADA",
      "BNB",
      "BTC",
      "ETH",
      "LINK",
      "LTC",
      "USDC",
      "USDT",
      "XLM",
      "XRP"
    ])
    for (const p of body.prices) {
      expect(p.price).toBeGreaterThan(0)
      expect(p.source).toBe("simulator")
    }
    const btc = (await (await fetch(`${svc.url}/api/latest/btc`)).json()) as { symbol: string }
    expect(btc.symbol).toBe("BTC")
  })

  it("streams ticks with ids over SSE, filtered by symbol", async () => {
    const { status, contentType, events } = await readEvents(`${svc.url}/api/events?symbols=ETH`, "tick", 3)
    expect(status).toBe(200)
    expect(contentType).toContain("text/event-stream")
    expect(events).toHaveLength(3)
    for (const e of events) expect((e.data as { symbol: string }).symbol).toBe("ETH")
    const ids = events.map((e) => Number(e.id))
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true)

    // Resuming from an id replays what came after it.
    const resumed = await readEvents(`${svc.url}/api/events?symbols=ETH`, "tick", 1, {
      "last-event-id": String(ids[0])
    })
    expect(Number(resumed.events[0]!.id)).toBe(ids[1])
  })

  it("writes candles to the database through checkpoints", async () => {
    const candles = await eventually(
      async () => {
        const res = await fetch(`${svc.url}/api/candles/BTC?interval=1m`)
        const json = (await res.json()) as {
          candles: Array<{ tickCount: number; open: number; high: number; low: number; close: number }>
        }
        return json.candles.length > 0 ? json.candles : undefined
      },
      30_000,
      "a BTC candle in Postgres"
    )
    for (const c of candles) {
      expect(c.tickCount).toBeGreaterThan(0)
      expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close))
      expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close))
    }
  })

  it("adds indicator values aligned with the candles on ?indicators=true, and fills nothing where nothing is missing", async () => {
    const body = await eventually(
      async () => {
        const res = await fetch(`${svc.url}/api/candles/ETH?interval=1m&indicators=true&fill=true`)
        const json = (await res.json()) as {
          candles: Array<{ bucketStart: number; tickCount: number }>
          indicators?: Array<Record<string, unknown>>
        }
        return json.candles.length > 0 ? json : undefined
      },
      30_000,
      "an ETH candle in Postgres"
    )
    expect(body.indicators).toHaveLength(body.candles.length)
    for (const v of body.indicators!)
      expect(Object.keys(v).sort()).toEqual(["bollinger", "ema12", "ema26", "rsi14", "sma20", "sma50"])
    // the simulator ticks every coin every 200 ms: no bucket of the answer is empty
    expect(body.candles.every((c) => c.tickCount > 0)).toBe(true)
  })

  it("answers bad parameters with a 400 naming the parameter", async () => {
    for (const [query, param] of [
      ["interval=7m", "interval"],
      ["limit=abc", "limit"],
      ["from=yesterday", "from"],
      ["fill=yes", "fill"],
      ["indicators=1", "indicators"],
      ["from=2000&to=1000", "from"]
    ] as const) {
      const res = await fetch(`${svc.url}/api/candles/BTC?${query}`)
      expect(res.status, query).toBe(400)
      const body = (await res.json()) as { error: string }
      expect(body.error, query).toMatch(new RegExp(`^invalid ${param}\\b`))
    }
  })

  it("exits 0 soon after SIGTERM, even with an SSE client connected", async () => {
    const controller = new AbortController()
    const res = await fetch(`${svc.url}/api/events`, { signal: controller.signal })
    expect(res.status).toBe(200)
    const { code } = await svc.stop("SIGTERM")
    controller.abort()
    expect(code, svc.output()).toBe(0)
  })
})
