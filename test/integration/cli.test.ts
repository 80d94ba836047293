import { writeFileSync } from "node:fs"
import { afterAll, describe, expect, it } from "vitest"
import { createDatabase, query, unique } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, readEvents, startCli } from "../e2e/support.js"
import { services, servicesSh } from "./support.js"

const json = async <A>(url: string): Promise<{ status: number; headers: Headers; body: A }> => {
  const res = await fetch(url)
  return { status: res.status, headers: res.headers, body: (await res.json()) as A }
}

describe("the CLI on real services", () => {
  const env = services()
  const running: Array<Running> = []

  const start = async (args: ReadonlyArray<string>, extra: Record<string, string>) => {
    const r = await startCli(args, {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      SOURCE: "simulator",
      SIMULATOR_RATE: "4",
      CHECKPOINT_INTERVAL: "500 millis",
      ...extra
    })
    running.push(r)
    return r
  }
  const prices = (url: string) => json<{ prices: Array<{ symbol: string }> }>(`${url}/api/latest`)

  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
    await servicesSh("start", "redis").catch(() => undefined)
  })

  it("producer, processor and api as three processes share the work", async () => {
    const isolated = {
      KAFKA_TOPIC: unique("split"),
      KAFKA_GROUP_ID: unique("g"),
      DATABASE_URL: await createDatabase(env.databaseUrl, unique("split"))
    }
    await start(["migrate"], isolated)
    const processor = await start(["processor"], isolated)
    const producer = await start(["producer"], isolated)
    const api = await start(["api"], isolated)
    // Bounds, not timings: four node processes starting at once on a loaded 2-core machine took 69 s to the tenth
    // price (07:26 on 2026-12-02, load average 30), most of it loading modules.
    await eventually(
      async () => ((await prices(api.url)).body.prices.length === 10 ? true : undefined),
      150_000,
      "10 prices through the api process"
    )
    const candles = await eventually(
      async () => {
        const { body } = await json<{ candles: Array<unknown> }>(`${api.url}/api/candles/ETH?interval=1m`)
        return body.candles.length > 0 ? body.candles : undefined
      },
      30_000,
      "ETH candles through the api process"
    )
    expect(candles.length).toBeGreaterThan(0)
    for (const r of [producer, processor, api]) expect((await r.stop("SIGTERM")).code, r.output()).toBe(0)
  }, 300_000)

  // Open bug: in about one run in four, run right after the test above, the service exited with code 1 and printed
  // nothing, shortly after Redis was stopped (seen 2026-11-25; not reproduced by hand); once it never came up at all.
  // Retried once until it is understood; SVC_FAIL_LOG=<path> keeps a failed attempt's report, which the retry hides.
  it("service: /api/latest answers 503 with Retry-After while Redis is down, Postgres writes go on, both recover", async () => {
    await servicesSh("start", "redis") // a failed first attempt may have left it stopped
    const databaseUrl = await createDatabase(env.databaseUrl, unique("svc"))
    const svc = await start(["service"], {
      KAFKA_TOPIC: unique("svc"),
      KAFKA_GROUP_ID: unique("g"),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: process.env["SVC_LOG_LEVEL"] ?? "warning"
    })
    await eventually(
      async () => ((await prices(svc.url)).body.prices.length === 10 ? true : undefined),
      150_000,
      "10 prices from the service"
    ).catch((e: unknown) => {
      const report = `${String(e)}\nservice exit code: ${svc.child.exitCode}\nservice output:\n${svc.output()}`
      if (process.env["SVC_FAIL_LOG"]) writeFileSync(`${process.env["SVC_FAIL_LOG"]}-${Date.now()}`, report)
      throw new Error(report)
    })
    const stored = async () =>
      Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks"))[0]!.n)

    // Redis stops once the stream has its first `status` (cache up): a pause instead could be outrun by a loaded machine.
    let connected = () => {}
    const first = new Promise<void>((r) => (connected = r))
    const statuses = readEvents(`${svc.url}/api/events`, "status", 2, {}, () => connected())
    await Promise.race([first, statuses])
    await servicesSh("stop", "redis")
    const stoppedAt = Date.now()
    const down = await eventually(
      async () => {
        const r = await prices(svc.url)
        return r.status === 503 ? r : undefined
      },
      30_000,
      "a 503 from /api/latest"
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nservice exit code: ${svc.child.exitCode}\nservice output:\n${svc.output()}`)
    })
    console.log(`Redis stopped: /api/latest answered 503 after ${Date.now() - stoppedAt} ms`)
    // SSE clients are told: a `status` event with the cache down follows the one they got on connecting.
    const seen = (await statuses).events.map((e) => (e.data as { cache: string }).cache)
    expect(seen).toEqual(["up", "down"])
    expect(down.headers.get("retry-after")).toMatch(/^\d+$/)
    expect((down.body as unknown as { error: string }).error).toMatch(/unavailable/)
    // The durable path does not wait for Redis.
    const before = await stored()
    await eventually(
      async () => ((await stored()) > before + 20 ? true : undefined),
      20_000,
      "ticks still reaching Postgres"
    )
    expect((await fetch(`${svc.url}/health`)).status).toBe(200)

    await servicesSh("start", "redis")
    const startedAt = Date.now()
    await eventually(
      async () => ((await prices(svc.url)).status === 200 ? true : undefined),
      30_000,
      "/api/latest back to 200"
    )
    console.log(`Redis started: /api/latest answered 200 again after ${Date.now() - startedAt} ms`)
    expect((await svc.stop("SIGTERM")).code, svc.output()).toBe(0)
  }, 300_000)
})
