import type { Page } from "playwright-core"

// What the browser tests read off the chart: the page's own attributes (what it drew, what is hovered), never pixels.

export interface Drawn {
  /** Bucket starts (ms) of the candles drawn hollow (provisional). */
  readonly hollow: ReadonlyArray<number>
  /** Bucket starts (ms) marked as touched by an unfilled gap. */
  readonly marked: ReadonlyArray<number>
}

const list = (s: string | null) => (s ? s.split(",").map(Number) : [])

export const drawn = async (page: Page): Promise<Drawn> => {
  const chart = page.locator("#chart")
  return {
    hollow: list(await chart.getAttribute("data-hollow")),
    marked: list(await chart.getAttribute("data-marked"))
  }
}

/** The bucket the tooltip describes (the hovered candle), or null. */
const hovered = async (page: Page): Promise<number | null> => {
  const b = await page.locator("#chart-tooltip").getAttribute("data-bucket")
  return b === null ? null : Number(b)
}

/**
 * Moves the mouse over `pane` (a selector) until the hovered candle is the one of `bucket` (ms): a bisection over the
 * pane's width, the hovered bucket growing with x. Returns the mouse's x.
 */
export const hoverBucket = async (page: Page, pane: string, bucket: number): Promise<number> => {
  const box = (await page.locator(`${pane} .u-over`).boundingBox())!
  const y = box.y + box.height * 0.5
  let lo = box.x + 1
  let hi = box.x + box.width - 1
  for (let step = 0; step < 30; step++) {
    const mid = Math.round((lo + hi) / 2)
    await page.mouse.move(mid, y)
    const at = await hovered(page)
    if (at === bucket) return mid
    if (at === null || at < bucket) lo = mid + 1
    else hi = mid - 1
    if (lo > hi) break
  }
  throw new Error(`no x over ${pane} hovers the candle of ${new Date(bucket).toISOString()}`)
}

/** Each pane's vertical cursor line: its x offset (px) and whether it is shown. */
export const cursorLines = (page: Page) =>
  page.evaluate(() =>
    ["#chart", "#chart-volume", "#chart-rsi"].map((pane) => {
      const line = document.querySelector<HTMLElement>(`${pane} .u-cursor-x`)
      const m = /translate\(([-\d.]+)px/.exec(line?.style.transform ?? "")
      const shown = line !== null && getComputedStyle(line).display !== "none" && !line.classList.contains("u-off")
      return { pane, x: m ? Number(m[1]) : null, shown }
    })
  )
