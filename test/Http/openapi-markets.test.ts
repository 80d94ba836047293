import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "vitest"
import { Api } from "../../src/Http/Api.js"

// The OpenAPI document the server serves at /openapi.json (OpenApi.fromApi(Api), as HttpApiBuilder.middlewareOpenApi
// builds it) on markets: the new endpoints, the market parameter's pattern, the market fields.

interface Parameter {
  readonly name: string
  readonly in: string
  readonly required?: boolean
  readonly schema: { readonly pattern?: string; readonly description?: string }
}
interface Schema {
  readonly required?: ReadonlyArray<string>
  readonly properties?: Record<string, unknown>
}
const doc = OpenApi.fromApi(Api) as unknown as {
  readonly paths: Record<string, { readonly get: { readonly parameters: ReadonlyArray<Parameter> } }>
  readonly components: { readonly schemas: Record<string, Schema> }
}
const param = (path: string, name: string) => doc.paths[path]!.get.parameters.find((p) => p.name === name)!

describe("OpenAPI on markets", () => {
  it("has /api/markets and /api/markets/{market}/gaps (from, to, limit) beside every path of before", () => {
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/latest",
        "/api/latest/{symbol}",
        "/api/symbols",
        "/api/candles/{symbol}",
        "/api/indicators/{symbol}",
        "/api/markets",
        "/api/markets/{market}/gaps"
      ])
    )
    const gaps = doc.paths["/api/markets/{market}/gaps"]!.get.parameters
    expect(gaps.map((p) => `${p.in} ${p.name}`)).toEqual(["path market", "query from", "query to", "query limit"])
  })

  it("gives every market parameter the pattern that takes a market in any case or a bare symbol", () => {
    const paths = ["/api/latest/{symbol}", "/api/candles/{symbol}", "/api/indicators/{symbol}"]
    const params = [...paths.map((p) => param(p, "symbol")), param("/api/markets/{market}/gaps", "market")]
    for (const p of params) {
      expect(p.in).toBe("path")
      const pattern = new RegExp(p.schema.pattern!)
      for (const ok of ["BTC", "btc", "binance:BTC-USDT", "Kraken:xbt-usd", "coingecko:BTC-USD"]) {
        expect([ok, pattern.test(ok)]).toEqual([ok, true])
      }
      // Unknown venues and a base that is its quote are refused (400) by the server too; so is a final newline.
      const refused = ["btc-usd", "binance:BTCUSDT", "binance:", ":BTC-USD", "BTC USD", "A".repeat(16)]
      for (const bad of [...refused, "nasdaq:BTC-USD", "binance:BTC-BTC", "kraken:0-0", "BTC\n", ""]) {
        expect([bad, pattern.test(bad)]).toEqual([bad, false])
      }
      expect(p.schema.description).toContain("DEFAULT_MARKETS")
    }
    const list = new RegExp(param("/api/latest", "symbols").schema.pattern!)
    expect(list.test("BTC,binance:ETH-USDT")).toBe(true)
    expect(list.test("BTC,")).toBe(false)
    expect(list.test("BTC,nasdaq:ETH-USD")).toBe(false)
    expect(list.test("BTC,binance:ETH-ETH")).toBe(false)
    expect(list.test(Array(100).fill("BTC").join(","))).toBe(true)
    expect(list.test(Array(101).fill("BTC").join(","))).toBe(false)
  })

  it("describes the market fields of the responses", () => {
    const { schemas } = doc.components
    expect(schemas["MarketInfo"]!.required).toEqual([
      "market",
      "venue",
      "base",
      "quote",
      "kind",
      "state",
      "lastEventTime",
      "lastPrice"
    ])
    expect(schemas["GapList"]!.required).toEqual(["market", "gaps"])
    expect(schemas["Gap"]!.required).toEqual(
      expect.arrayContaining(["type", "market", "fromId", "toId", "fromTime", "toTime", "reason", "detectedAt"])
    )
    for (const name of ["CandleSeries", "Indicators", "Candle"]) {
      expect([name, schemas[name]!.required]).toEqual([name, expect.arrayContaining(["symbol", "market"])])
    }
    expect(Object.keys(schemas["Tick"]!.properties!)).toEqual(expect.arrayContaining(["market", "tradeId", "side"]))
    expect(schemas["MarketState"]).toMatchObject({ enum: ["live", "stale", "idle"] })
  })
})
