import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { retained } from "../../src/Cache/LatestCache.js"
import type { Market } from "../../src/Domain/Market.js"
import { freePort } from "../../support/processes.mjs"
import { createDatabase, unique } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { haproxy, redisWriter, roundRobin, sse, trade, tradeIds } from "./scaleout-support.js"
import { services } from "./support.js"

// Two `api` processes on the real Redis and Postgres behind a round-robin proxy (each new connection to the other
// instance, as a load balancer without stickiness does). The test writes what the processor writes (SETEX, PUBLISH,
// XADD crypto:events) with the app's own Redis cache. A client that drops and comes back through the other instance
// with Last-Event-ID gets every event it missed once, in order; one that was away for more than the retained window
// gets `reset`. Other suites may write to the same Redis meanwhile: each client asks for markets of this run only.

const env = services()
const run = unique("s")
  .replace(/[^a-z0-9]/g, "")
  .toUpperCase()
  .slice(-10)
const market = `binance:A${run}-USDT` as Market
const other = `binance:B${run}-USDT` as Market
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

/** What is in front of the instances: its URL, and the instance each /api/events request went to, in order. */
interface Front {
  readonly url: string
  readonly served: () => ReadonlyArray<number>
  readonly close: () => Promise<void>
}

let apis: Array<Running> = []
const fronts: Record<string, Front | undefined> = {}
let writer: Awaited<ReturnType<typeof redisWriter>>

beforeAll(async () => {
  const databaseUrl = await createDatabase(env.databaseUrl, unique("scaleout"))
  writer = await redisWriter(env.redisUrl)
  const start = () => startCli(["api"], { REDIS_URL: env.redisUrl, DATABASE_URL: databaseUrl })
  apis = await Promise.all([start(), start()])
  await Promise.all(apis.map((a) => untilHealthy(a)))
  const ports = apis.map((a) => Number(new URL(a.url).port))
  const proxy = await roundRobin(ports)
  fronts["the test's round-robin proxy"] = { ...proxy, served: () => proxy.log }
  const lb = await haproxy(ports, await freePort())
  fronts["HAProxy with deploy/haproxy/haproxy.cfg"] = lb === undefined ? undefined : { ...lb, served: lb.log }
}, 240_000)

afterAll(async () => {
  for (const f of Object.values(fronts)) await f?.close()
  // Each stops cleanly on SIGTERM, its stream reader (a blocked XREAD) included.
  const stopped = await Promise.all(apis.map((a) => a.stop()))
  expect(stopped.map((s) => s.code)).toEqual([0, 0])
  await writer?.close()
})

/** Writes trades `ids` of `m` in batches of `size`, as the processor's cache writer does per flush. */
const write = async (m: Market, ids: ReadonlyArray<number>, size = 25) => {
  for (let i = 0; i < ids.length; i += size) await writer.write(ids.slice(i, i + size).map((id) => trade(m, id)))
}

describe("/metrics of two api instances", () => {
  it("names each instance (app_instance_info{instance_id}: hostname:PORT without INSTANCE_ID)", async () => {
    const names = await Promise.all(
      apis.map(async (a) => {
        const text = await (await fetch(`${a.url}/metrics`)).text()
        return /^app_instance_info\{instance_id="([^"]+)"\} 1$/m.exec(text)?.[1]
      })
    )
    expect(names).toEqual(apis.map((a) => expect.stringMatching(new RegExp(`:${new URL(a.url).port}$`))))
    expect(new Set(names).size).toBe(2)
  })
})

/** HAProxy logs a request when it ends: a bound for its log line to be written, not a timing assertion. */
const until = (f: () => boolean) => eventually(async () => f() || undefined, 10_000, "the front's request log")

/** The last two /api/events requests went to different instances. */
const switched = (front: Front) => {
  const [a, b] = front.served().slice(-2)
  expect(a).toBeDefined()
  expect(a).not.toBe(b)
}

describe.each(["the test's round-robin proxy", "HAProxy with deploy/haproxy/haproxy.cfg"])(
  "SSE across two api instances behind %s",
  (name) => {
    it("resumes on the other instance with exactly the missed events, once, in order; past the window: reset", async (ctx) => {
      const front = fronts[name]
      if (front === undefined) return ctx.skip() // no haproxy here: scripts/haproxy-check.sh installs it
      const feedUrl = () => `${front.url}/api/events?symbols=${market}`
      // Connected through the proxy to one instance: the first 40 trades, live.
      const first = await sse(feedUrl())
      await first.until((e) => e.some((x) => x.event === "status"), "status")
      await write(market, range(1, 40))
      await first.until((e) => tradeIds(e).length >= 40, "the first 40 trades")
      expect(tradeIds(first.events)).toEqual(range(1, 40))
      const lastId = first.events.filter((e) => e.event === "tick").at(-1)!.id!
      expect(lastId).toMatch(/^\d+-\d+$/) // a stream id, the same on every instance
      await first.close()

      // Away: 120 more trades of the market (and others' in between, which this client does not ask for).
      for (let k = 0; k < 4; k++) {
        await write(market, range(41 + k * 30, 30), 10)
        await write(other, range(1000 + k * 30, 30))
      }

      // Back through the proxy: the other instance. The missed trades, then live ones, each once, in order.
      const resumed = await sse(feedUrl(), { "last-event-id": lastId })
      await resumed.until((e) => e.some((x) => x.event === "status"), "status")
      await write(market, range(161, 20))
      await resumed.until((e) => tradeIds(e).length >= 140, "the missed and the new trades")
      expect(resumed.events.filter((e) => e.event === "reset")).toEqual([])
      expect(tradeIds(resumed.events)).toEqual(range(41, 140))
      const ids = resumed.events.filter((e) => e.event === "tick").map((e) => e.id!)
      expect(new Set(ids).size).toBe(ids.length)
      await resumed.close()
      await until(() => front.served().length >= 2)
      switched(front)

      // The same id, again through each instance: the same events (the ids mean the same on both).
      const again = [
        await sse(feedUrl(), { "last-event-id": lastId }),
        await sse(feedUrl(), { "last-event-id": lastId })
      ]
      for (const c of again) await c.until((e) => tradeIds(e).length >= 140, "the replay")
      for (const c of again) {
        expect(tradeIds(c.events).slice(0, 140)).toEqual(range(41, 140))
        expect(
          c.events
            .filter((e) => e.event === "tick")
            .map((e) => e.id)
            .slice(0, 140)
        ).toEqual(ids)
        await c.close()
      }

      // Away for more than the window (the stream keeps about `retained` entries, each instance as many events, and
      // trims only beyond half as many again): back on the other instance, one `reset`, then live events.
      const second = await sse(feedUrl())
      await write(market, range(181, 5))
      await second.until((e) => tradeIds(e).length >= 5, "5 trades")
      const stale = second.events.filter((e) => e.event === "tick").at(-1)!.id!
      await second.close()
      await write(other, range(10_000, retained * 2), 2_000)
      // Both instances past the bulk (a sentinel after it reached each, straight, not through the proxy): otherwise the
      // one resumed on might still hold the stale id's successors, and rightly replay them.
      const sentinel = `binance:C${run}-USDT` as Market
      const direct = await Promise.all(apis.map((a) => sse(`${a.url}/api/events?symbols=${sentinel}`)))
      for (const d of direct) await d.until((e) => e.some((x) => x.event === "status"), "status")
      await write(sentinel, [1])
      for (const d of direct) {
        await d.until((e) => tradeIds(e).length >= 1, "the sentinel")
        await d.close()
      }
      const late = await sse(feedUrl(), { "last-event-id": stale })
      await late.until((e) => e.some((x) => x.event === "reset"), "reset")
      await write(market, range(186, 3))
      await late.until((e) => tradeIds(e).length >= 3, "live trades after the reset")
      const events = late.events.filter((e) => e.event !== "status")
      expect(events[0]).toMatchObject({ id: undefined, event: "reset", data: { reason: "replay-buffer" } })
      expect(events.filter((e) => e.event === "reset")).toHaveLength(1)
      expect(tradeIds(events)).toEqual(range(186, 3))
      await late.close()
      await until(() => front.served().length >= 6)
      switched(front)
    }, 240_000)
  }
)
