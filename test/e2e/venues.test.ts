import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Market } from "../../src/Domain/Market.js"
import { eventually } from "../../support/waiting.mjs"
import { candleDifferences, type StoredCandle, storedCandle } from "../support/Reference.js"
import { type Running, startCli, untilHealthy } from "./support.js"
import * as S from "./venueScenario.js"

// Issue 15's "Done when", on embedded adapters: `node dist/main.js service` with SOURCE=binance,coinbase,kraken against
// three fake venues, through a seeded random schedule of disconnects and gaps. Read back through the API: every 1m
// candle equals the reference fold over the fakes' own trades (so each trade counted once), and every range of ids no
// one has is listed as a gap. The real-services twin (test/integration/venues.test.ts) also reads the ticks by id.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const json = async <A>(url: string): Promise<A> => {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as A
}

const candlesOf = async (url: string, market: Market): Promise<ReadonlyArray<StoredCandle>> => {
  const range = `from=${S.startTime}&to=${S.startTime + 86_400_000}&limit=1000`
  const body = await json<{ candles: ReadonlyArray<Record<string, unknown>> }>(
    `${url}/api/candles/${encodeURIComponent(market)}?interval=1m&${range}`
  )
  return body.candles.map((c) => ({ ...storedCandle(c), symbol: market }))
}

const gapsOf = async (url: string, market: Market) => {
  const body = await json<{ gaps: ReadonlyArray<{ fromId: number; toId: number }> }>(
    `${url}/api/markets/${encodeURIComponent(market)}/gaps?limit=1000`
  )
  return body.gaps.map((g) => [g.fromId, g.toId] as const).sort((a, b) => a[0] - b[0])
}

describe("SOURCE=binance,coinbase,kraken against three fake venues (service, embedded, built dist/main.js)", () => {
  let fakes: S.Fakes
  let svc: Running
  let replayed: Running | undefined
  // The live run records its frames and REST answers; the second test replays them into a service of its own.
  const recording = mkdtempSync(join(tmpdir(), "venues-recording-"))

  beforeAll(async () => {
    fakes = await S.startFakes()
    svc = await startCli(["service"], {
      ...S.venueEnv(fakes),
      CHECKPOINT_INTERVAL: "500 millis",
      RECORD_FRAMES: recording
    })
    await untilHealthy(svc)
  }, 180_000)

  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    if (replayed !== undefined && replayed.child.exitCode === null)
      await replayed.stop("SIGKILL").catch(() => undefined)
    await fakes?.close()
    rmSync(recording, { recursive: true, force: true })
  })

  it("after disconnects and gaps, every 1m candle is the reference fold and every lost range a gap", async () => {
    await S.warmUp(fakes)
    const steps = S.schedule(seed, fakes, 80)
    console.log(`schedule: ${S.describeSchedule(steps)}`)
    await S.play(fakes, steps)
    await S.finish(fakes)
    const reference = S.referenceOf(fakes)
    const problems = async () => {
      const stored = (await Promise.all(fakes.markets.map((m) => candlesOf(svc.url, m)))).flat()
      return candleDifferences(stored, reference)
    }
    await eventually(async () => ((await problems()).length === 0 ? true : undefined), 120_000, "candles").catch(
      async (e: unknown) => {
        throw new Error(`${String(e)}\n${(await problems()).slice(0, 20).join("\n")}\n${svc.output().slice(-4000)}`)
      }
    )
    const trades = fakes.markets.reduce((n, m) => n + S.tradeIdsOf(fakes, m).length, 0)
    const lost = fakes.markets.reduce((n, m) => n + S.lostRanges(fakes, m).length, 0)
    console.log(`${trades} trades in ${reference.size} 1m candles, ${lost} unfillable gaps: all as the reference`)
    for (const m of fakes.markets) {
      const expected = S.lostRanges(fakes, m)
      const listed = await eventually(
        async () => {
          const gaps = await gapsOf(svc.url, m)
          return gaps.length >= expected.length ? gaps : undefined
        },
        30_000,
        `${m}'s gaps`
      )
      expect(listed, m).toEqual(expected)
    }
    const ready = await json<{ dependencies: Record<string, { state: string }> }>(`${svc.url}/ready`).catch(
      () => undefined
    )
    for (const v of S.venueNames) expect(ready?.dependencies[`venue:${v}`]?.state, v).toBe("up")
    expect((await svc.stop("SIGTERM")).code, svc.output()).toBe(0)
  }, 240_000)

  it("the recording, replayed through SOURCE=replay:<dir>, gives the live run's candles and gaps", async () => {
    // Runs after the live test, whose SIGTERM flushed the recording. The fakes keep running but nothing reaches them:
    // the replay's REST answers come from the recording.
    expect(svc.child.exitCode, "the live service has stopped").toBe(0)
    const requestsBefore = [...fakes.venues.values()].reduce((n, f) => n + f.requests.length, 0)
    replayed = await startCli(["service"], { SOURCE: `replay:${recording}`, MARKETS: fakes.markets.join(",") })
    await untilHealthy(replayed)
    const url = replayed.url
    const reference = S.referenceOf(fakes)
    const problems = async () => {
      const stored = (await Promise.all(fakes.markets.map((m) => candlesOf(url, m)))).flat()
      return candleDifferences(stored, reference)
    }
    await eventually(
      async () => ((await problems()).length === 0 ? true : undefined),
      120_000,
      "replayed candles"
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${(await problems()).slice(0, 20).join("\n")}\n${replayed?.output().slice(-4000)}`)
    })
    for (const m of fakes.markets) {
      const expected = S.lostRanges(fakes, m)
      const listed = await eventually(
        async () => {
          const gaps = await gapsOf(url, m)
          return gaps.length >= expected.length ? gaps : undefined
        },
        30_000,
        `${m}'s replayed gaps`
      )
      expect(listed, m).toEqual(expected)
    }
    expect(
      [...fakes.venues.values()].reduce((n, f) => n + f.requests.length, 0),
      "REST calls to the fakes"
    ).toBe(requestsBefore)
  }, 240_000)
})
