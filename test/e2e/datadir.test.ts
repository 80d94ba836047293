import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { afterAll, describe, expect, it } from "vitest"
import { mulberry32 } from "../../support/random.mjs"
import { eventually } from "../../support/waiting.mjs"
import { candleDifferences, type ReferenceTick, referenceCandles, storedCandle } from "../support/Reference.js"
import { type Running, startCli, untilHealthy } from "./support.js"

// Issue 18's "Done when", item 1: `service` on embedded adapters with a DATA_DIR keeps its log and its database. A
// replay publishes 100 ticks (one checkpoint: BATCH_SIZE=100, no timed ones), then after a pause 60 more (published,
// acknowledged, not checkpointed), then pauses for ten minutes; the service is SIGKILLed in that pause and restarted
// on the same DATA_DIR with the rest of the stream. Every tick must then be in `ticks` once and every 1m candle equal
// the reference over the whole stream: the 60 can only come from the log on disk, the rest from PGlite's checkpoint.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

const coins = [
  ["BTC", "bitcoin"],
  ["ETH", "ethereum"],
  ["LTC", "litecoin"]
] as const
const T = Date.UTC(2024, 0, 1)
const minute = 60_000

/** `n` ticks a second apart from `start`, round-robin over the coins, prices a seeded walk. */
const ticksFrom = (rng: () => number, start: number, n: number) =>
  Array.from({ length: n }, (_, i) => {
    const [symbol, coinId] = coins[i % coins.length] as (typeof coins)[number]
    return {
      symbol,
      coinId,
      price: 100 + Math.round(rng() * 1e6) / 100,
      volume: Math.round(rng() * 1e4) / 100,
      eventTime: start + i * 1000
    }
  })

const rng = mulberry32(seed)
const checkpointed = ticksFrom(rng, T, 100)
const logOnly = ticksFrom(rng, T + 10 * minute, 60) // 10 min of event time later: 10 s at REPLAY_SPEED=60
const rest = ticksFrom(rng, T + 600 * minute, 90) // 10 h later: 10 min at REPLAY_SPEED=60, the service is killed before
const all = [...checkpointed, ...logOnly, ...rest]

const json = async <A>(url: string): Promise<A> => {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as A
}

/** The replay's market for each coin (docs/markets.md: a replayed tick is CoinGecko's). */
const marketOf = (symbol: string) => `coingecko:${symbol}-USD`

const candlesOf = async (url: string) => {
  const range = `from=${T}&to=${T + 700 * minute}&limit=1000`
  const lists = await Promise.all(
    coins.map(([symbol]) =>
      json<{ candles: ReadonlyArray<Record<string, unknown>> }>(
        `${url}/api/candles/${encodeURIComponent(marketOf(symbol))}?interval=1m&${range}`
      )
    )
  )
  return lists.flatMap((l) => l.candles.map(storedCandle))
}

const published = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^producer_ticks_published_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
}

const waitExit = (svc: Running) =>
  new Promise<number | null>((r) =>
    svc.child.exitCode !== null ? r(svc.child.exitCode) : svc.child.once("exit", (code) => r(code))
  )

describe("service on a DATA_DIR, SIGKILLed mid-stream and restarted (embedded, built dist/main.js)", () => {
  const root = mkdtempSync(join(tmpdir(), "datadir-e2e-"))
  const dataDir = join(root, "data")
  const running: Array<Running> = []
  const start = async (env: Record<string, string>) => {
    const svc = await startCli(["service"], {
      DATA_DIR: dataDir,
      BATCH_SIZE: "100",
      CHECKPOINT_INTERVAL: "1 hour",
      ...env
    })
    running.push(svc)
    return svc
  }
  const ndjson = (name: string, ticks: ReadonlyArray<object>) => {
    const path = join(root, name)
    writeFileSync(path, `${ticks.map((t) => JSON.stringify(t)).join("\n")}\n`)
    return path
  }

  afterAll(async () => {
    for (const svc of running) if (svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  })

  it("loses nothing acknowledged and counts nothing twice; a second process on the DATA_DIR is refused", async () => {
    const first = await start({ SOURCE: `replay:${ndjson("first.ndjson", all)}`, REPLAY_SPEED: "60" })
    await untilHealthy(first)

    const second = await start({ SOURCE: "simulator" })
    expect(await waitExit(second), second.output()).toBe(2)
    expect(second.output()).toContain(`DATA_DIR ${resolve(dataDir)} is in use by process ${first.child.pid}`)

    const acked = checkpointed.length + logOnly.length
    await eventually(
      async () => ((await published(first.url)) >= acked ? true : undefined),
      120_000,
      `${acked} published`
    )
    const stored = await eventually(
      async () => {
        const n = (await candlesOf(first.url)).reduce((s, c) => s + c.tickCount, 0)
        return n >= checkpointed.length ? n : undefined
      },
      60_000,
      "the first checkpoint"
    )
    // What the log alone must give back: acknowledged by the log, not in Postgres.
    expect(await published(first.url), "published before the kill").toBe(acked)
    expect(stored, "checkpointed before the kill").toBeLessThan(acked)
    console.log(`killed with ${acked} ticks published, ${stored} checkpointed`)
    await first.stop("SIGKILL")

    const restarted = await start({
      SOURCE: `replay:${ndjson("rest.ndjson", rest)}`,
      REPLAY_SPEED: "max",
      CHECKPOINT_INTERVAL: "500 millis"
    })
    await untilHealthy(restarted)
    expect(restarted.output()).toContain(`took over the lock of process ${first.child.pid}, which is gone`)
    const reference = referenceCandles(
      all.map((t): ReferenceTick => ({ ...t, source: "replay" })),
      [["1m", minute]]
    )
    const problems = async () => candleDifferences(await candlesOf(restarted.url), reference)
    await eventually(async () => ((await problems()).length === 0 ? true : undefined), 120_000, "candles").catch(
      async (e: unknown) => {
        throw new Error(
          `${String(e)}\n${(await problems()).slice(0, 20).join("\n")}\n${restarted.output().slice(-4000)}`
        )
      }
    )
    expect((await restarted.stop("SIGTERM")).code, restarted.output()).toBe(0)

    // The record itself, read from PGlite's directory once the service is gone.
    const db = await PGlite.create({ dataDir: join(dataDir, "pg") })
    try {
      const rows = await db.query<{ symbol: string; t: number; price: number }>(
        "SELECT symbol, (extract(epoch FROM event_time) * 1000)::float8 AS t, price FROM ticks ORDER BY t, symbol"
      )
      expect(rows.rows.map((r) => [r.symbol, r.t, r.price])).toEqual(
        [...all].sort((a, b) => a.eventTime - b.eventTime).map((t) => [t.symbol, t.eventTime, t.price])
      )
      const claims = await db.query<{ epoch: number }>("SELECT epoch::int AS epoch FROM processor_checkpoints")
      expect(claims.rows.length, "a checkpoint per partition").toBeGreaterThan(0)
      expect(
        claims.rows.every((r) => r.epoch >= 2),
        "every partition claimed again from its checkpoint"
      ).toBe(true)
    } finally {
      await db.close()
    }
  }, 420_000)
})
