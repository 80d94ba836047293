import { readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "./support.js"

// The whole pipeline fed by the CoinGecko source: the built service with SOURCE=coingecko against a fake CoinGecko on
// loopback that serves the recorded answers (test/fixtures/coingecko), each poll a little later and a little moved.
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/coingecko/${name}`, import.meta.url), "utf8")) as unknown
const prices = fixture("simple-price.json") as Record<string, Record<string, number>>
const markets = fixture("coins-markets.json")

describe("service with SOURCE=coingecko (fake CoinGecko on loopback)", () => {
  let server: Server
  let svc: Running
  let polls = 0

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const json = (body: unknown) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (url.pathname.endsWith("/ping")) return json({ gecko_says: "(V3) To the Moon!" })
      if (url.pathname.endsWith("/coins/markets")) return json(markets)
      if (url.pathname.endsWith("/simple/price")) {
        polls++
        const now = Math.floor(Date.now() / 1000)
        const ids = (url.searchParams.get("ids") ?? "").split(",")
        return json(
          Object.fromEntries(
            ids
              .filter((id) => prices[id])
              .map((id) => [
                id,
                {
                  ...prices[id],
                  usd: prices[id]!["usd"]! * (1 + polls / 1000),
                  last_updated_at: now
                }
              ])
          )
        )
      }
      res.writeHead(404).end()
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    svc = await startCli(["service"], {
      SOURCE: "coingecko",
      COINGECKO_BASE_URL: `http://127.0.0.1:${port}/api/v3`,
      COINS: "bitcoin,ethereum,tether",
      POLL_INTERVAL: "1 second",
      CHECKPOINT_INTERVAL: "500 millis"
    })
    await untilHealthy(svc)
  }, 180_000)

  afterAll(async () => {
    await svc.stop("SIGTERM")
    await new Promise((r) => server.close(r))
  })

  it("serves CoinGecko prices, labelled, and builds candles from them", async () => {
    const latest = await eventually(
      async () => {
        const body = (await (await fetch(`${svc.url}/api/latest`)).json()) as {
          prices: Array<{ symbol: string; source: string; price: number; marketCap?: number }>
        }
        return body.prices.length === 3 ? body.prices : undefined
      },
      30_000,
      "three CoinGecko prices"
    )
    expect(latest.map((p) => p.symbol).sort()).toEqual(["BTC", "ETH", "USDT"])
    expect(latest.every((p) => p.source === "coingecko")).toBe(true)
    expect(latest.find((p) => p.symbol === "BTC")!.marketCap).toBeGreaterThan(0)

    const candles = await eventually(
      async () => {
        const body = (await (await fetch(`${svc.url}/api/candles/BTC?interval=1m`)).json()) as {
          candles: Array<{ tickCount: number }>
        }
        const ticks = body.candles.reduce((n, c) => n + c.tickCount, 0)
        return ticks >= 2 ? body.candles : undefined
      },
      30_000,
      "BTC candles from at least two polls"
    )
    expect(candles.length).toBeGreaterThan(0)
    const symbols = (await (await fetch(`${svc.url}/api/symbols`)).json()) as {
      symbols: Array<{ symbol: string; source: string | null }>
    }
    expect(symbols.symbols.find((s) => s.symbol === "BTC")?.source).toBe("coingecko")
    expect(polls).toBeGreaterThanOrEqual(2)
  })
})
