import { mkdirSync } from "node:fs"
import type { Page, Request } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { chromiumPresent, type Dashboard, requireChromium, screenshots, startDashboard } from "./setup.js"

// The dashboard in a real browser (test/browser/setup.ts), fed by a replay file that holds 12 hours of history and
// then a live feed (test/browser/history.ts), so the charts have their indicators from the start.
const SYMBOLS = ["ADA", "BNB", "BTC", "ETH", "LINK", "LTC", "USDC", "USDT", "XLM", "XRP"]

interface CandlesAnswer {
  readonly candles: ReadonlyArray<{ readonly bucketStart: number }>
  readonly indicators?: ReadonlyArray<{ readonly sma50: number | null; readonly rsi14: number | null }>
}

describe("dashboard (Chromium, built dist/main.js service)", () => {
  let d: Dashboard | undefined
  let page: Page
  const candleRequests: Array<Request> = []
  let latestRequests = 0

  beforeAll(async () => {
    if (!chromiumPresent) return // the test fails, saying why
    d = await startDashboard(
      {
        // the live part starts about when the service does (a few seconds for the embedded Postgres)
        start: Date.now() + 10_000,
        historyHours: 12,
        historyStepMs: 20_000,
        liveMinutes: 8,
        liveStepMs: 500,
        seed: 20_251_125,
        markerCoin: "usd-coin"
      },
      // the history is in Postgres, with indicators, before the page loads
      async (url) => {
        const body = (await (
          await fetch(`${url}/api/candles/ETH?interval=5m&limit=500&indicators=true`)
        ).json()) as CandlesAnswer
        const last = body.indicators?.at(-2)
        return body.candles.length >= 140 && last?.sma50 != null && last.rsi14 != null ? true : undefined
      },
      "12 h of ETH 5m candles with SMA 50 and RSI in Postgres"
    )
    page = await d.newPage()
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/api/candles/")) candleRequests.push(r)
    })
    // Freeze /api/latest at its first answer, so that a price can only change through the SSE feed (/api/events):
    // with SSE broken the ticker stays still and the test fails, whatever the 10 s snapshot poll does.
    let firstSnapshot: { status: number; contentType: string; body: string } | undefined
    await page.route("**/api/latest", async (route) => {
      latestRequests++
      if (firstSnapshot === undefined) {
        const res = await route.fetch()
        firstSnapshot = {
          status: res.status(),
          contentType: res.headers()["content-type"] ?? "application/json",
          body: await res.text()
        }
      }
      await route.fulfill({
        status: firstSnapshot.status,
        contentType: firstSnapshot.contentType,
        body: firstSnapshot.body
      })
    })
  }, 150_000)

  afterAll(async () => {
    await d?.close()
  })

  it("shows live prices, the status bar, and ETH 5m over 12 h with overlays, volume and RSI panes", async () => {
    requireChromium()
    const url = d!.svc.url
    await page.goto(`${url}/`, { waitUntil: "load" })
    // Set on the page's window: a page reload would lose it, so it proves the pickers did not reload the page.
    await page.evaluate(() => Object.assign(window, { __sameDocument: true }))

    // a row per default symbol (its one market, CoinGecko's: the replay's), each with a price
    for (const symbol of SYMBOLS) {
      await page.locator(`tr[data-symbol="${symbol}"] td.price`).filter({ hasText: /\d/ }).waitFor({ timeout: 30_000 })
    }
    expect(await page.locator("#ticker-body tr[data-symbol]").count()).toBe(SYMBOLS.length)

    // the status bar: the SSE stream is open, every dependency of /ready is up, and the data is labelled replayed
    await expect.poll(() => page.locator("#status").textContent(), { timeout: 15_000 }).toBe("live")
    for (const dep of ["database", "cache", "bus"]) {
      await expect
        .poll(() => page.locator(`#deps .dep[data-dep="${dep}"]`).getAttribute("data-state"), { timeout: 15_000 })
        .toBe("up")
    }
    expect(await page.locator("#deps").getAttribute("data-status")).toBe("ready")
    await expect.poll(() => page.locator("#source").getAttribute("data-source"), { timeout: 15_000 }).toBe("replay")
    expect(await page.locator("#source").textContent()).toBe("replay")
    expect(await page.locator("#replay-note").isVisible()).toBe(true)

    // live updates arrive: BTC's price cell changes (only SSE can change it: /api/latest is frozen above)
    const btcPrice = page.locator('tr[data-symbol="BTC"] td.price')
    const first = await btcPrice.textContent()
    await eventually(
      async () => {
        const now = await btcPrice.textContent()
        return now !== first ? now : undefined
      },
      20_000,
      `BTC's price to change from ${first} through SSE`
    )
    expect(latestRequests).toBeGreaterThanOrEqual(1)

    // BTC is charted by default; the market picker (an htmx request on change) switches to XRP
    await page
      .locator('#chart[data-symbol="BTC"][data-interval="1m"][data-range="2h"][data-state="ready"]')
      .waitFor({ timeout: 30_000 })
    await page.locator("#market-picker").selectOption("coingecko:XRP-USD")
    await page.locator('#chart[data-symbol="XRP"][data-interval="1m"][data-state="ready"]').waitFor({ timeout: 30_000 })
    expect(await page.locator('tr[data-symbol="XRP"]').getAttribute("aria-selected")).toBe("true")
    expect(decodeURIComponent(new URL(candleRequests.at(-1)!.url()).pathname)).toBe("/api/candles/coingecko:XRP-USD")
    expect(candleRequests.at(-1)!.headers()["hx-request"]).toBe("true")

    // pick ETH (a row), then 5m and 12 h (htmx requests from the pickers): the chart loads ETH's 5m candles over 12 h
    await page.locator('tr[data-symbol="ETH"]').click()
    await expect.poll(() => page.locator('tr[data-symbol="ETH"]').getAttribute("aria-selected")).toBe("true")
    expect(await page.locator("#market-picker").inputValue()).toBe("coingecko:ETH-USD")
    await page.locator('#intervals button[data-interval="5m"]').click()
    expect(await page.locator('#intervals button[data-interval="5m"]').getAttribute("aria-pressed")).toBe("true")
    await page.locator('#ranges button[data-range="12h"]').click()
    expect(await page.locator('#ranges button[data-range="12h"]').getAttribute("aria-pressed")).toBe("true")
    const chart = page.locator('#chart[data-symbol="ETH"][data-interval="5m"][data-range="12h"][data-state="ready"]')
    await chart.waitFor({ timeout: 30_000 })
    expect(Number(await chart.getAttribute("data-candles"))).toBeGreaterThanOrEqual(140)
    expect(await page.locator("#chart-title").textContent()).toBe("ETH-USD · CoinGecko · 5m")

    // the 12 h request came from htmx (HX-Request), asked for filled candles with their indicators, and the page stayed
    const last = candleRequests.at(-1)!
    const asked = new URL(last.url())
    expect(decodeURIComponent(asked.pathname)).toBe("/api/candles/coingecko:ETH-USD")
    expect(asked.searchParams.get("interval")).toBe("5m")
    expect(asked.searchParams.get("fill")).toBe("true")
    expect(asked.searchParams.get("indicators")).toBe("true")
    expect(Number(asked.searchParams.get("from"))).toBeLessThanOrEqual(Date.now() - 12 * 3600_000)
    expect(last.headers()["hx-request"]).toBe("true")
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)

    // overlays and panes: every overlay is on and has values, volume and RSI panes are drawn with their points
    expect(await chart.getAttribute("data-overlays")).toBe("sma20 sma50 ema12 ema26 bb")
    expect(Number(await chart.getAttribute("data-indicator-points"))).toBeGreaterThanOrEqual(100)
    const volume = page.locator('#chart-volume[data-pane="volume"][data-state="ready"]')
    const rsi = page.locator('#chart-rsi[data-pane="rsi"][data-state="ready"]')
    expect(Number(await volume.getAttribute("data-points"))).toBeGreaterThanOrEqual(100)
    expect(Number(await rsi.getAttribute("data-points"))).toBeGreaterThanOrEqual(100)
    for (const pane of ["#chart", "#chart-volume", "#chart-rsi"]) {
      expect(await page.locator(`${pane} canvas`).count(), pane).toBeGreaterThanOrEqual(1)
    }
    // an overlay toggles off and on
    const sma50 = page.locator('#overlays button[data-overlay="sma50"]')
    await sma50.click()
    expect(await sma50.getAttribute("aria-pressed")).toBe("false")
    expect(await chart.getAttribute("data-overlays")).toBe("sma20 ema12 ema26 bb")
    await sma50.click()
    expect(await chart.getAttribute("data-overlays")).toBe("sma20 sma50 ema12 ema26 bb")

    // the open candle moves live from SSE candle events, without asking for the candles again
    const requestsBefore = candleRequests.length
    const bucket = await chart.getAttribute("data-last-bucket")
    const close = await chart.getAttribute("data-last-close")
    await eventually(
      async () => {
        const b = await page.locator("#chart").getAttribute("data-last-bucket")
        const c = await page.locator("#chart").getAttribute("data-last-close")
        return b !== bucket || c !== close ? true : undefined
      },
      20_000,
      "the newest ETH 5m candle to move through SSE"
    )
    expect(candleRequests.length).toBe(requestsBefore)

    // zoom and pan: the buttons, the wheel, and a double-click to reset
    await page.locator('#zoom button[data-zoom="in"]').click()
    expect(await page.locator("#chart").getAttribute("data-zoomed")).toBe("true")
    await page.locator('#zoom button[data-zoom="left"]').click()
    await page.locator('#zoom button[data-zoom="reset"]').click()
    expect(await page.locator("#chart").getAttribute("data-zoomed")).toBe("false")
    const over = (await page.locator("#chart .u-over").boundingBox())!
    await page.mouse.move(over.x + over.width * 0.5, over.y + over.height * 0.5)
    await page.mouse.wheel(0, -300)
    await expect.poll(() => page.locator("#chart").getAttribute("data-zoomed"), { timeout: 20_000 }).toBe("true")
    await page.mouse.dblclick(over.x + over.width * 0.5, over.y + over.height * 0.5)
    await expect.poll(() => page.locator("#chart").getAttribute("data-zoomed"), { timeout: 20_000 }).toBe("false")

    // the tooltip: OHLC and the indicator values of the hovered candle
    await page.mouse.move(over.x + over.width * 0.58, over.y + over.height * 0.5)
    const tooltip = page.locator("#chart-tooltip")
    await tooltip.waitFor({ state: "visible", timeout: 20_000 })
    // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator (rendered text), not a DOM node
    const text = (await tooltip.innerText()).replace(/\s+/g, " ")
    for (const label of [
      "Open",
      "High",
      "Low",
      "Close",
      "Volume",
      "SMA 20",
      "SMA 50",
      "EMA 12",
      "EMA 26",
      "BB 20/2",
      "RSI 14"
    ]) {
      expect(text, text).toContain(label)
    }
    expect(text).toMatch(/SMA 20 [\d,]+\.\d+/)
    expect(text).toMatch(/RSI 14 \d+\.\d/)

    mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: `${screenshots}dashboard.png` })
    await page.locator(".chart-panel").screenshot({ path: `${screenshots}candles.png` })

    // a phone: the layout stacks (chart below the table), the panes are redrawn for the narrow width;
    // the screenshot shows the chart, scrolled into view as a tap on a row does on a phone
    await page.mouse.move(0, 0)
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForFunction(
      () => {
        const panes = ["#chart", "#chart-volume", "#chart-rsi"].map((p) => document.querySelector(`${p} canvas`))
        return panes.every((c) => c !== null && c.getBoundingClientRect().width <= 390)
      },
      undefined,
      { timeout: 10_000 }
    )
    await page.locator(".chart-panel").evaluate((panel) => panel.scrollIntoView({ block: "end", behavior: "instant" }))
    expect(Number(await page.locator("#chart").getAttribute("data-candles"))).toBeGreaterThanOrEqual(140)
    expect(await page.locator("#chart-tooltip").isHidden()).toBe(true)
    await page.screenshot({ path: `${screenshots}dashboard-phone.png` })

    expect(d!.problems, d!.problems.join("\n")).toEqual([])
  }, 150_000)
})
