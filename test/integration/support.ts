import { spawn } from "node:child_process"
import { Schema } from "effect"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import { query } from "../../support/services.mjs"
import { sleep } from "../../support/waiting.mjs"
import { candleDifferences, referenceCandles, storedCandle } from "../support/Reference.js"

/** The real services; `npm test` starts them with scripts/services.sh and sets these. */
export const services = () => {
  const missing = ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL"].filter((n) => !process.env[n])
  if (missing.length > 0) {
    throw new Error(
      `integration suites need real services: ${missing.join(", ")} not set (run \`npm test\`, which starts them)`
    )
  }
  return {
    kafkaBrokers: process.env["KAFKA_BROKERS"]!,
    redisUrl: process.env["REDIS_URL"]!,
    databaseUrl: process.env["DATABASE_URL"]!
  }
}

// == shared by the fault suites

export const encode = Schema.encodeSync(TickJson)
/** The input's event times start here (a Thursday noon, UTC). */
export const epoch = Date.UTC(2025, 10, 20, 12, 0, 0)

/** `count` ticks per symbol, `spacingMs` apart from tick `offset` on, with trade sizes: a known input for the reference. */
export const feed = (symbols: ReadonlyArray<string>, count: number, offset = 0, spacingMs = 5_000, base = epoch) =>
  symbols.flatMap((symbol, s) =>
    Array.from({ length: count }, (_, k) => {
      const i = k + offset
      return new Tick({
        symbol,
        coinId: symbol.toLowerCase(),
        price: 10 + s + Math.cos(i / 9) + (i % 11) / 100,
        volume: 1 + (i % 3),
        eventTime: base + i * spacingMs + s,
        source: "replay",
        ingestTime: base + i * spacingMs
      })
    })
  )

export const messages = (ticks: ReadonlyArray<Tick>) => ticks.map((t) => ({ key: t.symbol, value: encode(t) }))

/** `scripts/services.sh <args>` for the services of this test run (the ports come from the environment). */
export const servicesSh = (...args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("bash", ["scripts/services.sh", ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`services.sh ${args.join(" ")}: ${code}\n${err}`))
    )
  })

/**
 * Postgres against the accepted input, as a list of differences (empty when they agree). The ticks table is unique on
 * (market, event time, trade id), so it can only show loss (or a tick that was never input); double counting shows in
 * the candles, compared field by field with the tests' own reference (test/support/Reference.ts).
 */
export const recordDifferences = async (
  databaseUrl: string,
  ticks: ReadonlyArray<Tick>,
  reference: ReturnType<typeof referenceCandles> = referenceCandles(ticks)
) => {
  const rows = await query<{ symbol: string; source: string; event_time: Date }>(
    databaseUrl,
    "SELECT symbol, source, event_time FROM ticks"
  )
  const stored = new Set(rows.map((r) => `${r.symbol}|${r.source}|${r.event_time.getTime()}`))
  const input = new Set(ticks.map((t) => `${t.symbol}|${t.source}|${t.eventTime}`))
  const problems = [...input].filter((k) => !stored.has(k)).map((k) => `tick ${k}: lost`)
  problems.push(...[...stored].filter((k) => !input.has(k)).map((k) => `tick ${k}: stored, not in the input`))
  const candles = (await query(databaseUrl, "SELECT * FROM candles")).map(storedCandle)
  problems.push(...candleDifferences(candles, reference))
  return problems
}

/**
 * Waits (bounded) until Postgres equals the reference of `ticks`; fails with the differences still left. While fewer
 * ticks are stored than the input has, it only counts them (the full comparison reads every tick and candle back).
 */
export const converged = async (databaseUrl: string, ticks: ReadonlyArray<Tick>, what: string, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  const reference = referenceCandles(ticks)
  const inputs = new Set(ticks.map((t) => `${t.symbol}|${t.source}|${t.eventTime}`)).size
  const compare = () =>
    recordDifferences(databaseUrl, ticks, reference).catch((e: unknown) => [`query failed: ${String(e)}`])
  const stored = () =>
    query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks").then(
      (r) => Number(r[0]!.n),
      () => 0
    )
  let last: ReadonlyArray<string> = ["never compared"]
  while (Date.now() < deadline) {
    if ((await stored()) >= inputs) {
      last = await compare()
      if (last.length === 0) return
    }
    await sleep(300)
  }
  if (last[0] === "never compared") last = await compare()
  throw new Error(`${what}: Postgres differs from the reference (${last.length}):\n${last.slice(0, 12).join("\n")}`)
}
