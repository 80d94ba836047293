import { FastCheck as fc } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, startCli, untilHealthy } from "./support.js"

// Every HTTP parameter fuzzed against the built service: a bad one is a 4xx with a JSON { error } body, never a 5xx.
const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    "",
    "1m",
    "5m",
    "1d",
    "-1",
    "0",
    "1e309",
    "NaN",
    "2025-11-20T12:00:00Z",
    "2025-13-45",
    "%00",
    "../../etc/passwd",
    "BTC,ETH",
    "x".repeat(5000)
  )
)
const symbol = fc.oneof(
  fc.constantFrom("BTC", "btc", "ETH", "NOPE", "B-C", "%2e%2e", "A".repeat(40)),
  fc.string({ minLength: 1, maxLength: 20 })
)
const params = fc.dictionary(
  fc.constantFrom("interval", "from", "to", "limit", "symbols", "fill", "indicators", "x"),
  value,
  { maxKeys: 4 }
)
const path = fc.oneof(
  fc.tuple(symbol, params).map(([s, q]) => ({ path: `/api/candles/${encodeURIComponent(s)}`, q })),
  fc.tuple(symbol, params).map(([s, q]) => ({ path: `/api/indicators/${encodeURIComponent(s)}`, q })),
  fc.tuple(symbol, params).map(([s, q]) => ({ path: `/api/latest/${encodeURIComponent(s)}`, q })),
  params.map((q) => ({ path: "/api/latest", q })),
  params.map((q) => ({ path: "/api/symbols", q }))
)

describe("HTTP parameters, fuzzed", () => {
  let svc: Running
  beforeAll(async () => {
    svc = await startCli(["service"], { SIMULATOR_RATE: "2", CHECKPOINT_INTERVAL: "1 second" })
    await untilHealthy(svc)
  }, 180_000)
  afterAll(async () => {
    await svc.stop("SIGTERM")
  })

  it("never answers 5xx; every error is JSON with an `error`", async () => {
    await fc.assert(
      fc.asyncProperty(path, async ({ path, q }) => {
        const url = `${svc.url}${path}?${new URLSearchParams(q).toString()}`
        const res = await fetch(url)
        const text = await res.text()
        expect(res.status, `${url} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500)
        if (res.status >= 400) {
          const body = JSON.parse(text) as { error?: unknown }
          expect(typeof body.error, `${url} → ${text.slice(0, 300)}`).toBe("string")
        }
      }),
      { seed, numRuns: 300 }
    )
  }, 120_000)
})
