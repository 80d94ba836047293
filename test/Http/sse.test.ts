import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { retained } from "../../src/Cache/LatestCache.js"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { openSse, type SseConnection } from "./sse-client.js"

// GET /api/events against the built `node dist/main.js service` (embedded adapters, simulator): connection caps,
// the symbols filter, Last-Event-ID resume, a slow client, and the caps' configuration.

const started: Array<Running> = []
const start = async (env: Record<string, string>) => {
  const svc = await startCli(["service"], env)
  started.push(svc)
  await untilHealthy(svc)
  return svc
}
const metric = async (url: string, line: RegExp) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const found = text.split("\n").find((l) => line.test(l))
  return found === undefined ? undefined : Number(found.split(" ").at(-1))
}
const ticksOf = (c: SseConnection) =>
  c.events.filter((e) => e.event === "tick").map((e) => JSON.parse(e.data) as { symbol: string })

afterAll(async () => {
  await Promise.all(
    started.filter((s) => s.child.exitCode === null).map((s) => s.stop("SIGKILL").catch(() => undefined))
  )
})

describe("SSE connection caps (SSE_MAX_CLIENTS=3, SSE_MAX_PER_ADDRESS=2)", () => {
  let svc: Running
  const open: Array<SseConnection> = []
  const connect = async (localAddress: string) => {
    const c = await openSse(`${svc.url}/api/events`, { localAddress })
    open.push(c)
    return c
  }

  beforeAll(async () => {
    svc = await start({ SIMULATOR_RATE: "5", SSE_MAX_CLIENTS: "3", SSE_MAX_PER_ADDRESS: "2" })
  }, 180_000)
  afterAll(() => {
    for (const c of open) c.close()
  })

  it("answers 503 JSON with Retry-After over the per-address cap and over the global cap, and frees the slot on disconnect", async () => {
    // two streams from 127.0.0.1 fill its share
    const a1 = await connect("127.0.0.1")
    const a2 = await connect("127.0.0.1")
    expect([a1.status, a2.status]).toEqual([200, 200])
    await a1.waitFor((es) => es.some((e) => e.event === "tick"), 15_000, "a tick on the first stream")

    const a3 = await connect("127.0.0.1")
    expect(a3.status).toBe(503)
    expect(a3.headers["content-type"]).toContain("application/json")
    expect(a3.headers["retry-after"]).toBe("5")
    const perAddress = JSON.parse(await a3.body()) as { error: string; details: { cap: string } }
    expect(perAddress.error).toContain("from this address")
    expect(perAddress.details.cap).toBe("SSE_MAX_PER_ADDRESS")

    // another address still gets in, up to the global cap of 3
    const b1 = await connect("127.0.0.2")
    expect(b1.status).toBe(200)
    const c1 = await connect("127.0.0.3")
    expect(c1.status).toBe(503)
    expect(c1.headers["retry-after"]).toBe("5")
    const global = JSON.parse(await c1.body()) as { error: string; details: { cap: string } }
    expect(global.error).toContain("server's cap is 3")
    expect(global.details.cap).toBe("SSE_MAX_CLIENTS")

    // the caps are on the live feed only
    expect((await fetch(`${svc.url}/api/latest`)).status).toBe(200)
    expect(await metric(svc.url, /^sse_clients /)).toBe(3)
    expect(await metric(svc.url, /^sse_rejected_total\{cap="address"\}/)).toBe(1)
    expect(await metric(svc.url, /^sse_rejected_total\{cap="global"\}/)).toBe(1)

    // a client leaves: its slot is free again, for its own address and for the others
    a1.close()
    const again = await eventually(
      async () => {
        const c = await connect("127.0.0.3")
        if (c.status === 200) return c
        c.close()
        return undefined
      },
      15_000,
      "a slot to free up after a client disconnected"
    )
    await again.waitFor(
      (es) => es.some((e) => e.event === "tick"),
      15_000,
      "ticks on the stream that took the freed slot"
    )
    expect(await metric(svc.url, /^sse_clients /)).toBe(3)
  })
})

describe("SSE filter and resume", () => {
  let svc: Running

  beforeAll(async () => {
    svc = await start({ SIMULATOR_RATE: "5" })
  }, 180_000)

  it("sends the retry hint first, then only the symbols asked for (any case)", async () => {
    const c = await openSse(`${svc.url}/api/events?symbols=btc,ETH`)
    try {
      expect(c.status).toBe(200)
      expect(c.headers["content-type"]).toContain("text/event-stream")
      await c.waitFor(
        () => {
          const symbols = new Set(ticksOf(c).map((t) => t.symbol))
          return symbols.has("BTC") && symbols.has("ETH") && ticksOf(c).length >= 20
        },
        20_000,
        "20 ticks of BTC and ETH"
      )
      expect(c.head()).toMatch(/^: connected\nretry: 3000\n\n/)
      expect(new Set(ticksOf(c).map((t) => t.symbol))).toEqual(new Set(["BTC", "ETH"]))
      const candles = c.events.filter((e) => e.event === "candle").map((e) => JSON.parse(e.data) as { symbol: string })
      expect(candles.every((k) => k.symbol === "BTC" || k.symbol === "ETH")).toBe(true)
      // each candle carries its indicator values (null until enough candles closed)
      for (const k of candles) expect(Object.keys((k as { indicators?: object }).indicators ?? {})).toHaveLength(6)
      // the status event comes with every connection
      expect(c.events[0]).toMatchObject({ event: "status" })
      expect(JSON.parse(c.events[0]!.data)).toEqual({ cache: "up" })
    } finally {
      c.close()
    }
  })

  it("answers a bad symbols, lastEventId or Last-Event-ID with a 400 naming it", async () => {
    for (const [query, headers, param] of [
      ["symbols=B$C", {}, "symbols"],
      ["symbols=", {}, "symbols"],
      ["lastEventId=x", {}, "lastEventId"],
      ["", { "last-event-id": "-1" }, "last-event-id"]
    ] as const) {
      const c = await openSse(`${svc.url}/api/events?${query}`, { headers })
      expect(c.status, query).toBe(400)
      const body = JSON.parse(await c.body()) as { error: string; details: unknown }
      expect(body.error, query).toMatch(new RegExp(`^invalid ${param}:`))
      expect(body.details).toBeDefined()
    }
  })

  it("resumes after Last-Event-ID (header, or lastEventId in the query) with every event that followed", async () => {
    const first = await openSse(`${svc.url}/api/events`)
    await first.waitFor((es) => es.filter((e) => e.id !== undefined).length >= 30, 20_000, "30 events with ids")
    first.close()
    const ids = first.events.flatMap((e) => (e.id === undefined ? [] : [e.id]))
    // unfiltered, the ids a client sees are consecutive
    expect(ids.slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => ids[0]! + i))

    const from = ids[4]!
    const expected = ids.slice(5, 25)
    for (const [how, url, headers] of [
      ["header", `${svc.url}/api/events`, { "last-event-id": String(from) }],
      ["query", `${svc.url}/api/events?lastEventId=${from}`, {}],
      // the header wins over the query
      ["both", `${svc.url}/api/events?lastEventId=${ids[15]}`, { "last-event-id": String(from) }]
    ] as const) {
      const resumed = await openSse(url, { headers })
      try {
        await resumed.waitFor(
          (es) => es.filter((e) => e.id !== undefined).length >= 20,
          20_000,
          `20 resumed events (${how})`
        )
        const got = resumed.events.flatMap((e) => (e.id === undefined ? [] : [e.id])).slice(0, 20)
        expect(got, how).toEqual(expected)
        // replayed events are the same events
        const original = first.events.find((e) => e.id === expected[0])!
        expect(resumed.events.find((e) => e.id === expected[0])).toEqual(original)
      } finally {
        resumed.close()
      }
    }
  })

  it("answers an id this server never gave (it restarted since) with one reset, then live events", async () => {
    for (const [how, url, headers] of [
      ["header", `${svc.url}/api/events`, { "last-event-id": "999999999" }],
      ["query", `${svc.url}/api/events?lastEventId=999999999`, {}]
    ] as const) {
      const c = await openSse(url, { headers })
      try {
        await c.waitFor((es) => es.filter((e) => e.id !== undefined).length >= 3, 20_000, `3 live events (${how})`)
        expect(c.events[0]?.event, how).toBe("status")
        expect(c.events[1], how).toMatchObject({ id: undefined, event: "reset" })
        const reset = JSON.parse(c.events[1]!.data) as { reason: string; oldest: unknown }
        expect(reset.reason, how).toBe("unknown-id")
        expect(typeof reset.oldest === "string" || reset.oldest === null, how).toBe(true)
        expect(
          c.events.filter((e) => e.event === "reset"),
          how
        ).toHaveLength(1)
        // live from there: ids far below the one asked for
        expect(
          c.events.slice(2).every((e) => e.id === undefined || e.id < 999999999),
          how
        ).toBe(true)
      } finally {
        c.close()
      }
    }
  })
})

describe("a slow client never slows the others", () => {
  let svc: Running

  beforeAll(async () => {
    // ~2,800 events a second (ticks and candle updates): an unread stream fills its socket buffers within seconds
    svc = await start({ SIMULATOR_RATE: "50" })
  }, 180_000)

  it("keeps streaming to 25 readers while one connection is never read, and drops the unread one's oldest events", async () => {
    const slow = await openSse(`${svc.url}/api/events`, { read: false, keep: false })
    expect(slow.status).toBe(200)
    const fast = await Promise.all(Array.from({ length: 25 }, () => openSse(`${svc.url}/api/events`, { keep: false })))
    try {
      expect(fast.every((c) => c.status === 200)).toBe(true)
      expect(await metric(svc.url, /^sse_clients /)).toBe(26)
      await fast[0]!.waitFor(() => fast[0]!.stats().lastId !== undefined, 15_000, "a first event")
      const startId = fast[0]!.stats().lastId!

      // Far more than the unread stream can hold (256 KiB queued in Node plus a few MB of socket buffers):
      // had the server waited for it, every stream would have stalled long before this.
      const target = startId + 40_000
      for (const c of fast)
        await c.waitFor(() => (c.stats().lastId ?? 0) >= target, 90_000, `event id ${target} on every reader`)

      // The unread stream, read at last: what was buffered for it, then a jump over what the feed dropped, then live.
      slow.read()
      const newest = Math.max(...fast.map((c) => c.stats().lastId ?? 0))
      await slow.waitFor(() => (slow.stats().lastId ?? 0) >= newest, 30_000, `the slow reader to reach id ${newest}`)
      const { jumps, count } = slow.stats()
      expect(jumps.length, JSON.stringify(jumps)).toBeGreaterThanOrEqual(1)
      const dropped = jumps.reduce((n, [before, after]) => n + after - before - 1, 0)
      expect(dropped).toBeGreaterThan(0)
      expect(count).toBeLessThan(newest - startId)
      expect(await metric(svc.url, /^sse_dropped_writes_total /)).toBeGreaterThan(0)
      // the readers themselves kept up
      for (const c of fast) expect(c.stats().count).toBeGreaterThanOrEqual(40_000)
    } finally {
      slow.close()
      for (const c of fast) c.close()
    }
    await eventually(
      async () => ((await metric(svc.url, /^sse_clients /)) === 0 ? true : undefined),
      15_000,
      "every stream to be released"
    )
  }, 150_000)

  it("answers a resume from an id the replay buffer no longer holds with one reset, then live events", async () => {
    const first = await openSse(`${svc.url}/api/events`, { keep: false })
    let from: number
    try {
      await first.waitFor(() => first.stats().lastId !== undefined, 15_000, "a first event")
      from = first.stats().lastId!
      // the buffer holds at most 1.5 × 10,000 events (`retained`): past that, `from` is gone from it
      const past = from + retained * 1.5 + 500
      await first.waitFor(() => (first.stats().lastId ?? 0) > past, 120_000, `event id ${past}`)
    } finally {
      first.close()
    }
    const resumed = await openSse(`${svc.url}/api/events`, { headers: { "last-event-id": String(from) } })
    try {
      await resumed.waitFor((es) => es.filter((e) => e.id !== undefined).length >= 3, 20_000, "3 live events")
      expect(resumed.events[1]).toMatchObject({ id: undefined, event: "reset" })
      const reset = JSON.parse(resumed.events[1]!.data) as { reason: string; oldest: string }
      expect(reset.reason).toBe("replay-buffer")
      expect(Number(reset.oldest)).toBeGreaterThan(from + 1)
      expect(resumed.events.filter((e) => e.event === "reset")).toHaveLength(1)
      // nothing from before the buffer's oldest: live events only
      expect(resumed.events.slice(2).every((e) => e.id === undefined || e.id >= Number(reset.oldest))).toBe(true)
    } finally {
      resumed.close()
    }
  }, 180_000)
})

describe("SSE cap configuration", () => {
  for (const [name, value] of [
    ["SSE_MAX_CLIENTS", "lots"],
    ["SSE_MAX_PER_ADDRESS", "0"]
  ] as const) {
    it(`stops start-up with exit code 2 and a line naming ${name}=${value}`, async () => {
      const svc = await startCli(["service"], { [name]: value })
      started.push(svc)
      const code = await new Promise<number | null>((resolve, reject) => {
        if (svc.child.exitCode !== null) return resolve(svc.child.exitCode)
        const timer = setTimeout(
          () => reject(new Error(`still running 60 s after start with ${name}=${value}\n${svc.output()}`)),
          60_000
        )
        svc.child.once("exit", (c) => {
          clearTimeout(timer)
          resolve(c)
        })
      })
      expect(code, svc.output()).toBe(2)
      expect(svc.output()).toMatch(new RegExp(`error: invalid ${name}: `))
    }, 70_000)
  }
})
