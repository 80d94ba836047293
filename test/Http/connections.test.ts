import { ConfigProvider, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { SseConfig } from "../../src/Config.js"
import { makeConnections } from "../../src/Http/Sse.js"

// The SSE connection caps, the counting part: per remote address and for the whole process.
describe("SSE connection caps", () => {
  it("refuses a connection over the per-address cap and over the global cap, and frees slots on release", () => {
    const c = makeConnections({ maxClients: 3, maxPerAddress: 2 })
    expect(c.tryAcquire("10.0.0.1")).toBeUndefined()
    expect(c.tryAcquire("10.0.0.1")).toBeUndefined()
    expect(c.tryAcquire("10.0.0.1")).toBe("address")
    expect(c.tryAcquire("10.0.0.2")).toBeUndefined()
    expect(c.tryAcquire("10.0.0.3")).toBe("global")
    expect(c.total()).toBe(3)
    expect(c.of("10.0.0.1")).toBe(2)
    // a refusal takes nothing
    expect(c.of("10.0.0.3")).toBe(0)

    c.release("10.0.0.1")
    expect(c.total()).toBe(2)
    expect(c.tryAcquire("10.0.0.3")).toBeUndefined()
    expect(c.tryAcquire("10.0.0.1")).toBe("global")
    c.release("10.0.0.2")
    expect(c.tryAcquire("10.0.0.1")).toBeUndefined()
    expect(c.of("10.0.0.1")).toBe(2)
  })

  it("forgets an address once its last stream is released", () => {
    const c = makeConnections({ maxClients: 10, maxPerAddress: 1 })
    expect(c.tryAcquire("a")).toBeUndefined()
    c.release("a")
    expect(c.of("a")).toBe(0)
    expect(c.total()).toBe(0)
    expect(c.tryAcquire("a")).toBeUndefined()
  })
})

describe("SSE_MAX_CLIENTS, SSE_MAX_PER_ADDRESS", () => {
  const load = (env: Record<string, string>) =>
    Effect.runSyncExit(Effect.withConfigProvider(SseConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

  it("default to 10000 and 50", () => {
    expect(load({})).toEqual(Exit.succeed({ maxClients: 10_000, maxPerAddress: 50 }))
  })

  it("take whole numbers of at least 1", () => {
    expect(load({ SSE_MAX_CLIENTS: "7", SSE_MAX_PER_ADDRESS: "2" })).toEqual(
      Exit.succeed({ maxClients: 7, maxPerAddress: 2 })
    )
    for (const [name, value] of [
      ["SSE_MAX_CLIENTS", "0"],
      ["SSE_MAX_CLIENTS", "lots"],
      ["SSE_MAX_PER_ADDRESS", "1.5"],
      ["SSE_MAX_PER_ADDRESS", "-3"]
    ]) {
      const exit = load({ [name!]: value! })
      expect(Exit.isFailure(exit), `${name}=${value}`).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : ""), `${name}=${value}`).toContain(name)
    }
  })
})
