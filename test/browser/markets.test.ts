import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Page, Request } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { chromiumPresent, type Dashboard, requireChromium, screenshots, startDashboard } from "./setup.js"

// The dashboard on markets (docs/markets.md, issue 15 item 7): the picker grouped by venue, the chart and the trade
// tape of the chosen market, the table's venue and state, the address remembering the choice. The trades are venue
// trades (market, tradeId, side) in the replay file, through the real service: replay → bus → processor → SSE.
const BINANCE_BTC = "binance:BTC-USDT"
const BINANCE_ETH = "binance:ETH-USDT"
const TAPE_ROWS = 50

interface FileTrade {
  readonly market?: string
  readonly tradeId?: number
  readonly side?: string
  readonly price: number
  readonly volume: number
}

const tapeRows = (page: Page) =>
  page.locator("#tape-body tr[data-trade-id]").evaluateAll((rows) =>
    rows.map((r) => ({
      id: Number(r.getAttribute("data-trade-id")),
      cls: r.className,
      cells: Array.from(r.querySelectorAll("td"), (td) => td.textContent ?? "")
    }))
  )

describe("dashboard on markets (Chromium, built dist/main.js service)", () => {
  let d: Dashboard | undefined
  const trades = new Map<number, FileTrade>()

  beforeAll(async () => {
    if (!chromiumPresent) return // the test fails, saying why
    d = await startDashboard(
      {
        start: Date.now() + 10_000,
        historyHours: 3,
        historyStepMs: 20_000,
        liveMinutes: 6,
        liveStepMs: 500,
        seed: 20_261_201,
        markerCoin: "usd-coin",
        trades: [
          // bursts of 12 trades within 12 ms, twice a second: many in one animation frame
          { market: BINANCE_BTC, venueSymbol: "BTCUSDT", firstId: 3_000_000_000, perLiveStep: 12, burstMs: 12 },
          { market: BINANCE_ETH, venueSymbol: "ETHUSDT", firstId: 1_000_000 }
        ]
      },
      async (url) => {
        const res = await fetch(`${url}/api/candles/${encodeURIComponent(BINANCE_BTC)}?interval=1m&limit=500`)
        const body = (await res.json()) as { candles?: ReadonlyArray<unknown> }
        return res.ok && (body.candles?.length ?? 0) >= 150 ? true : undefined
      },
      `3 h of ${BINANCE_BTC} 1m candles in Postgres`
    )
    // the reference: the file's own trades of the market, by id (read back here, not from the service)
    for (const line of readFileSync(join(d.dir, "history.ndjson"), "utf8").split("\n")) {
      if (line === "") continue
      const t = JSON.parse(line) as FileTrade
      if (t.market === BINANCE_BTC && t.tradeId !== undefined) trades.set(t.tradeId, t)
    }
  }, 150_000)

  afterAll(async () => {
    await d?.close()
  })

  it("picks a market by venue, charts it, fills its tape from trades, and shows every market's venue and state", async () => {
    requireChromium()
    const page = await d!.newPage()
    const candleRequests: Array<Request> = []
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/api/candles/")) candleRequests.push(r)
    })
    await page.goto(`${d!.svc.url}/`, { waitUntil: "load" })

    // the first screen is today's: BTC (a bare symbol, the server's default market for it) charted
    await page.locator('#chart[data-symbol="BTC"][data-state="ready"]').waitFor({ timeout: 30_000 })
    const defaultMarket = await page.locator("#chart").getAttribute("data-market")
    expect(defaultMarket).toBe("coingecko:BTC-USD")
    expect(new URL(candleRequests[0]!.url()).pathname).toBe("/api/candles/BTC")

    // the table: a row per market with its venue and state; the venue markets among them, live
    const btcRow = page.locator(`tr[data-market="${BINANCE_BTC}"]`)
    await btcRow.locator("td.price").filter({ hasText: /\d/ }).waitFor({ timeout: 30_000 })
    expect(await btcRow.locator(".venue").textContent()).toBe("Binance")
    await expect.poll(() => btcRow.locator(".mstate").textContent(), { timeout: 15_000 }).toBe("live")
    expect(await page.locator('tr[data-market="coingecko:BTC-USD"] .venue').textContent()).toBe("CoinGecko")
    expect(await page.locator(`tr[data-market="${BINANCE_ETH}"] .mstate`).textContent()).toBe("live")

    // the picker groups the markets by venue
    const groups = await page.locator("#market-picker optgroup").evaluateAll((gs) =>
      gs.map((g) => ({
        label: g.getAttribute("label"),
        values: Array.from(g.querySelectorAll("option"), (o) => o.value)
      }))
    )
    expect(groups.map((g) => g.label)).toEqual(["CoinGecko", "Binance"])
    expect(groups[1]!.values.sort()).toEqual([BINANCE_BTC, BINANCE_ETH])

    // pick binance:BTC-USDT: its candles (the market in the path), and its tape
    await page.locator("#market-picker").selectOption(BINANCE_BTC)
    const chart = page.locator(`#chart[data-market="${BINANCE_BTC}"][data-state="ready"]`)
    await chart.waitFor({ timeout: 30_000 })
    expect(Number(await chart.getAttribute("data-candles"))).toBeGreaterThanOrEqual(100)
    expect(decodeURIComponent(new URL(candleRequests.at(-1)!.url()).pathname)).toBe(`/api/candles/${BINANCE_BTC}`)
    expect(await btcRow.getAttribute("aria-selected")).toBe("true")
    expect(await page.locator("#chart-title").textContent()).toBe("BTC-USDT · Binance · 1m")
    expect(new URL(page.url()).searchParams.get("market")).toBe(BINANCE_BTC)

    // the tape fills from the market's trades, newest on top, and stays at TAPE_ROWS rows
    const tape = page.locator(`#tape[data-market="${BINANCE_BTC}"]`)
    await eventually(
      async () => (Number(await tape.getAttribute("data-trades")) >= TAPE_ROWS + 20 ? true : undefined),
      30_000,
      `${TAPE_ROWS + 20} trades on the tape`
    )
    const rows = await tapeRows(page)
    expect(rows.length).toBe(TAPE_ROWS)
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.id, "newest on top").toBeLessThan(rows[i - 1]!.id)
    for (const r of rows) {
      const t = trades.get(r.id)
      expect(t, `trade ${r.id} is one of the file's ${BINANCE_BTC} trades`).toBeDefined()
      const [time, side, price, size] = r.cells
      expect(time).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/)
      expect(side).toBe(t!.side)
      expect(r.cls).toBe(`side-${t!.side}`)
      // BTC at ~95,000: two decimals; a size of about 100 USDT: five
      expect(price).toMatch(/^\d{2,3},\d{3}\.\d{2}$/)
      expect(Number(price!.replace(/,/g, ""))).toBeCloseTo(t!.price, 1)
      expect(size).toMatch(/^\d+\.\d{5}$/)
      expect(Number(size)).toBeCloseTo(t!.volume, 4)
    }
    // read in one go in the page: between two calls the next frame may have dropped the rows
    const colours = await page.evaluate(() => {
      const sides = document.querySelectorAll("#tape-body tr.side-buy .side, #tape-body tr.side-sell .side")
      return [...new Set(Array.from(sides, (e) => `${e.closest("tr")!.className} ${getComputedStyle(e).color}`))].sort()
    })
    expect(colours).toEqual(["side-buy rgb(38, 166, 154)", "side-sell rgb(239, 83, 80)"])

    // trades keep coming in bursts: the tape stays at TAPE_ROWS rows and the page does not grow
    const nodes = () => page.evaluate(() => document.getElementsByTagName("*").length)
    const before = { nodes: await nodes(), trades: Number(await tape.getAttribute("data-trades")) }
    await eventually(
      async () => (Number(await tape.getAttribute("data-trades")) >= before.trades + 100 ? true : undefined),
      30_000,
      "100 more trades on the tape"
    )
    expect(await page.locator("#tape-body tr").count()).toBe(TAPE_ROWS)
    expect(Math.abs((await nodes()) - before.nodes), "DOM nodes after 100 more trades").toBeLessThan(20)

    mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: `${screenshots}dashboard-markets.png` })
    await page.locator(".tape-panel").screenshot({ path: `${screenshots}tape.png` })

    // the address remembers the choice: a reload charts binance:BTC-USDT again, with a fresh tape of its trades
    await page.reload({ waitUntil: "load" })
    await chart.waitFor({ timeout: 30_000 })
    expect(await page.locator("#market-picker").inputValue()).toBe(BINANCE_BTC)
    await eventually(
      async () => (Number(await tape.getAttribute("data-rows")) >= 5 ? true : undefined),
      30_000,
      "the tape after the reload"
    )

    // another market: the tape is that market's only
    await page.locator(`tr[data-market="${BINANCE_ETH}"]`).click()
    await page.locator(`#chart[data-market="${BINANCE_ETH}"][data-state="ready"]`).waitFor({ timeout: 30_000 })
    await eventually(
      async () =>
        Number(await page.locator(`#tape[data-market="${BINANCE_ETH}"]`).getAttribute("data-rows")) >= 5
          ? true
          : undefined,
      30_000,
      `${BINANCE_ETH}'s trades on the tape`
    )
    const ethIds = (await tapeRows(page)).map((r) => r.id)
    expect(
      ethIds.every((id) => id >= 1_000_000 && id < 2_000_000),
      ethIds.join(",")
    ).toBe(true)
    expect(d!.problems, d!.problems.join("\n")).toEqual([])
  }, 150_000)

  it("falls back to the symbols when /api/markets is missing", async () => {
    requireChromium()
    d!.problems.length = 0
    // the browser logs the 404 it is given: the one console error this test expects
    const page = await d!.newPage(
      undefined,
      (m) => /status of 404/.test(m.text()) && /\/api\/markets$/.test(m.location().url)
    )
    await page.route("**/api/markets", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: '{"error":"not found"}' })
    )
    await page.goto(`${d!.svc.url}/`, { waitUntil: "load" })
    await page.locator('#chart[data-symbol="BTC"][data-state="ready"]').waitFor({ timeout: 30_000 })
    expect(await page.locator("#market-picker optgroup").count()).toBe(0)
    const labels = await page.locator("#market-picker option").allTextContents()
    expect(labels).toContain("ETH")
    expect(new URL(page.url()).searchParams.get("symbol")).toBe("BTC")
    expect(d!.problems, d!.problems.join("\n")).toEqual([])
  }, 60_000)
})
