import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import type { Browser } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import { freePort } from "../../support/processes.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { launchChromium, pageMaker, requireChromium, screenshots } from "./setup.js"

// A real Redis goes away under the dashboard and comes back: the banner shows and clears. The test runs its own
// redis-server on a free port (from Debian's package; scripts/services.sh installs it), so stopping it disturbs no other suite.

const startRedis = (port: number) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" }
    )
    child.once("error", reject)
    const deadline = Date.now() + 30_000
    const probe = () =>
      fetch(`http://127.0.0.1:${port}`).then(
        () => resolve(child),
        (e: unknown) => {
          // Redis answers HTTP with a closed connection: any answer (even an error other than ECONNREFUSED) means it listens.
          const refused = String((e as { cause?: { code?: string } }).cause?.code) === "ECONNREFUSED"
          if (!refused) resolve(child)
          else if (Date.now() > deadline) reject(new Error("redis-server did not start"))
          else setTimeout(probe, 100)
        }
      )
    probe()
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

describe("dashboard while Redis goes away (Chromium, real redis-server)", () => {
  let svc: Running | undefined
  let redis: ChildProcess | undefined
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
    if (svc && svc.child.exitCode === null) await svc.stop("SIGTERM")
    if (redis) await stop(redis)
  })

  it("shows the cache banner while Redis is down and clears it when Redis is back", async () => {
    requireChromium()
    const port = await freePort()
    redis = await startRedis(port)
    svc = await startCli(["service"], { REDIS_URL: `redis://127.0.0.1:${port}`, SIMULATOR_RATE: "2" })
    await untilHealthy(svc) // an embedded service on a loaded machine can take a minute to start
    const url = svc.url
    await eventually(
      async () =>
        ((await (await fetch(`${url}/api/latest`)).json()) as { prices?: Array<unknown> }).prices?.length === 10 ||
        undefined,
      60_000,
      "prices in Redis"
    )

    browser = await launchChromium()
    const problems: Array<string> = []
    // the browser logs the 503s of /api/latest and /ready (degraded) while Redis is down: the errors this test expects
    const page = await pageMaker(browser, problems)(
      undefined,
      (m) => /status of 503/.test(m.text()) && /\/(api\/latest|ready)$/.test(m.location().url)
    )
    await page.goto(url)
    await page.locator('#ticker tr[data-symbol="BTC"]').waitFor({ timeout: 30_000 })
    // BTC's default market charted (its candles come from Postgres, which stays up) before the cache goes
    await page.locator('#chart[data-symbol="BTC"][data-state="ready"]').waitFor({ timeout: 60_000 })
    expect(await page.locator("#cache-banner").isHidden()).toBe(true)

    await stop(redis)
    await page.locator("#cache-banner").waitFor({ state: "visible", timeout: 30_000 })
    expect(await page.locator("#cache-banner").textContent()).toContain("Live cache unavailable")
    expect((await fetch(`${url}/api/latest`)).status).toBe(503)
    mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: `${screenshots}cache-down.png` })

    redis = await startRedis(port)
    await page.locator("#cache-banner").waitFor({ state: "hidden", timeout: 60_000 })
    expect((await fetch(`${url}/api/latest`)).status).toBe(200)
    expect(problems, problems.join("\n")).toEqual([])
  }, 180_000)
})
