import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "./support.js"

// Issue 18, item 2: on a fresh DATA_DIR the simulator first publishes a day of history through the topic (a tick per
// coin every 30 s, oldest first), so the first screen has a day of 1m candles with SMA 50 and RSI; a restart on the
// same DATA_DIR does not publish it again.

interface Body {
  readonly candles: ReadonlyArray<{ readonly bucketStart: number; readonly tickCount: number }>
  readonly indicators?: ReadonlyArray<{ readonly sma50: number | null; readonly rsi14: number | null }>
}

const candles = async (url: string): Promise<Body> => {
  const res = await fetch(`${url}/api/candles/BTC?interval=1m&limit=2000&indicators=true`)
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
  return (await res.json()) as Body
}

const published = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^producer_ticks_published_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
}

describe("the simulator's day of history on a fresh DATA_DIR (embedded, built dist/main.js)", () => {
  const root = mkdtempSync(join(tmpdir(), "history-e2e-"))
  // One coin: the day is per coin, and only BTC's is read (a second coin doubled the work and proved nothing more).
  const env = { DATA_DIR: join(root, "data"), HISTORY: "1", COINS: "bitcoin", CHECKPOINT_INTERVAL: "1 second" }
  const running: Array<Running> = []

  afterAll(async () => {
    for (const svc of running) if (svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  })

  it("opens on a day of 1m candles with SMA 50 and RSI, and publishes it once", async () => {
    const first = await startCli(["service"], env)
    running.push(first)
    await untilHealthy(first)
    const day = await eventually(
      async () => {
        const body = await candles(first.url)
        return body.candles.length >= 1440 ? body : undefined
      },
      120_000,
      "a day of BTC 1m candles"
    )
    const starts = day.candles.map((c) => c.bucketStart)
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(1439 * 60_000)
    expect(day.indicators?.filter((v) => v.sma50 !== null).length).toBeGreaterThan(1380)
    expect(day.indicators?.filter((v) => v.rsi14 !== null).length).toBeGreaterThan(1420)
    expect((await first.stop("SIGTERM")).code, first.output()).toBe(0)

    const again = await startCli(["service"], env)
    running.push(again)
    await untilHealthy(again)
    await eventually(async () => ((await published(again.url)) > 0 ? true : undefined), 60_000, "live ticks")
    // Live ticks only: a second day (2880 ticks) would be published at once.
    expect(await published(again.url)).toBeLessThan(2880)
    const after = await candles(again.url)
    expect(Math.min(...after.candles.map((c) => c.bucketStart))).toBe(Math.min(...starts))
    expect((await again.stop("SIGTERM")).code).toBe(0)
  }, 360_000)
})
