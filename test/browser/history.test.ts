import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { launchChromium, pageMaker, requireChromium, screenshots } from "./setup.js"

// Issue 18, item 2: a fresh `service` (simulator, a fresh DATA_DIR, HISTORY on as `npm start` has it) first publishes a
// day of history, so the first screen (BTC, 1m, 2h, as the dashboard opens) has a full chart: the range and its SMA 50
// warm-up of candles, the SMA 50 overlay and the RSI pane with values. With HISTORY=0 it has a candle or two and fails.

interface Model {
  readonly candles: number
  readonly sma50: number
  readonly rsi14: number
}

/** Counts the candles, the shown SMA 50 line's values and the RSI pane's values the page handed uPlot. */
const probe = `(async () => {
  const { state } = await import(location.origin + "/static/state.js")
  const nonNull = (a) => (a ?? []).filter((v) => v != null).length
  const sma = state.charts.price.series.findIndex((s) => s.label === "SMA 50" && s.show)
  return {
    candles: state.candles.x.length,
    sma50: sma < 0 ? 0 : nonNull(state.charts.price.data[sma]),
    rsi14: nonNull(state.charts.rsi.data[1])
  }
})()`

describe("the first screen of a fresh service (Chromium, built dist/main.js, simulator with its history)", () => {
  const root = mkdtempSync(join(tmpdir(), "first-screen-"))
  let svc: Running | undefined
  let browser: Browser | undefined

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    if (svc && svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  })

  it("shows hundreds of 1m candles with SMA 50 and RSI drawn", async () => {
    requireChromium()
    // startCli's defaults are HISTORY=0 and DATA_DIR=memory (for the other tests): this one runs as a user does.
    svc = await startCli(["service"], { DATA_DIR: join(root, "data"), HISTORY: "1" })
    await untilHealthy(svc)
    const url = svc.url
    // The history has been processed once BTC has a day of 1m candles (bounded: the run fails if it never comes).
    await eventually(
      async () => {
        const res = await fetch(`${url}/api/candles/BTC?interval=1m&limit=2000`)
        const body = (await res.json()) as { readonly candles?: ReadonlyArray<unknown> }
        return (body.candles?.length ?? 0) >= 1440 ? true : undefined
      },
      180_000,
      "a day of BTC 1m candles processed"
    )
    browser = await launchChromium()
    const problems: Array<string> = []
    const page = await pageMaker(browser, problems)()
    await page.goto(`${url}/`, { waitUntil: "load" })
    const chart = page.locator('#chart[data-symbol="BTC"][data-interval="1m"][data-range="2h"][data-state="ready"]')
    await chart.waitFor({ timeout: 30_000 })
    expect(await chart.getAttribute("data-overlays")).toContain("sma50")
    // The status bar's "loading history N%" (from /ready) is gone once the history is in.
    await expect.poll(() => page.locator("#history").isHidden(), { timeout: 15_000 }).toBe(true)
    const rsi = page.locator('#chart-rsi[data-pane="rsi"][data-state="ready"]')
    await rsi.waitFor({ timeout: 30_000 })
    // What the chart was given to draw, from the page's own model (the same module instance the page uses).
    // A string, not a function: vitest would rewrite a function's dynamic import() into its own loader.
    const model = (await page.evaluate(probe)) as Model
    // 2 h of 1m candles and the 50 of warm-up before them, every one with its SMA 50 and RSI.
    expect(model.candles).toBeGreaterThanOrEqual(160)
    expect(model.sma50).toBeGreaterThanOrEqual(160)
    expect(model.rsi14).toBeGreaterThanOrEqual(160)
    expect(Number(await rsi.getAttribute("data-points"))).toBeGreaterThanOrEqual(160)
    // While a history loads, /ready says how far (a hand-written answer: the real one is over in seconds here).
    const loading = await pageMaker(browser, problems)()
    await loading.route("**/ready", async (route) => {
      // A poll still in flight when the page closes is disposed under it: that one is simply dropped.
      try {
        const real = (await (await route.fetch()).json()) as Record<string, unknown>
        await route.fulfill({ json: { ...real, history: { published: 28_800, processed: 12_096, total: 28_800 } } })
      } catch (e) {
        if (!loading.isClosed()) throw e
      }
    })
    await loading.goto(`${url}/`, { waitUntil: "load" })
    await expect.poll(() => loading.locator("#history").textContent(), { timeout: 15_000 }).toBe("loading history 42%")
    expect(await loading.locator("#history").isVisible()).toBe(true)
    await loading.unroute("**/ready")
    await loading.close()
    mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: `${screenshots}first-screen.png` })
    expect(problems).toEqual([])
  }, 300_000)
})
