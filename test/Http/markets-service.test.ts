import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { openSse } from "./sse-client.js"

// Markets end to end on the built `node dist/main.js service` (simulator, embedded adapters): the markets rows the
// processor writes, read back by /api/markets; SSE filtered by a market; the markets the responses carry.

interface MarketInfo {
  readonly market: string
  readonly venue: string
  readonly base: string
  readonly kind: string
  readonly state: string
  readonly lastEventTime: number | null
  readonly lastPrice: number | null
}

describe("markets on the built service (simulator)", () => {
  let svc: Running
  beforeAll(async () => {
    svc = await startCli(["service"], { SIMULATOR_RATE: "5", CHECKPOINT_INTERVAL: "500 millis" })
    await untilHealthy(svc)
  }, 180_000)
  afterAll(async () => {
    await svc?.stop("SIGTERM")
  })

  it("lists the simulator's markets once checkpointed: sample kind, live, with a last event time and price", async () => {
    const markets = await eventually(
      async () => {
        const body = (await (await fetch(`${svc.url}/api/markets`)).json()) as { markets: Array<MarketInfo> }
        const btc = body.markets.find((m) => m.market === "simulator:BTC-USD")
        return btc?.lastPrice !== null && btc?.lastPrice !== undefined ? body.markets : undefined
      },
      45_000,
      "simulator:BTC-USD in /api/markets with a price"
    )
    const btc = markets.find((m) => m.market === "simulator:BTC-USD")!
    expect(btc).toMatchObject({ venue: "simulator", base: "BTC", kind: "sample" })
    expect(["live", "stale"]).toContain(btc.state)
    expect(btc.lastEventTime).toEqual(expect.any(Number))
    expect(markets.every((m) => m.market.startsWith("simulator:"))).toBe(true)
    expect([...markets.map((m) => m.market)]).toEqual([...markets.map((m) => m.market)].sort())
    // a bare symbol now means the simulator's market, and candles say so
    const candles = (await (await fetch(`${svc.url}/api/candles/BTC`)).json()) as { market: string; symbol: string }
    expect([candles.symbol, candles.market]).toEqual(["BTC", "simulator:BTC-USD"])
  })

  it("streams only the market asked for (the colon as %3A), each tick with its market", async () => {
    const c = await openSse(`${svc.url}/api/events?symbols=Simulator%3Aeth-usd`)
    try {
      expect(c.status).toBe(200)
      await c.waitFor((es) => es.filter((e) => e.event === "tick").length >= 3, 30_000, "three ETH ticks")
      const ticks = c.events.filter((e) => e.event === "tick").map((e) => JSON.parse(e.data) as Record<string, unknown>)
      expect(new Set(ticks.map((t) => `${t["market"]} ${t["symbol"]}`))).toEqual(new Set(["simulator:ETH-USD ETH"]))
    } finally {
      c.close()
    }
    const bad = await openSse(`${svc.url}/api/events?symbols=nasdaq:ETH-USD`)
    expect(bad.status).toBe(400)
    expect(JSON.parse(await bad.body())).toMatchObject({ error: expect.stringMatching(/^invalid symbols: .*nasdaq/) })
  })
})
