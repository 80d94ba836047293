import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import type { Tick } from "../../src/Domain/Tick.js"
import { publish } from "../../support/kafka.mjs"
import { mulberry32 } from "../../support/random.mjs"
import { query, unique } from "../../support/services.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import type { Running } from "../e2e/support.js"
import { deadLettersConverged, logged, type Poison, poison, type Rig, rig } from "./rig.js"
import { converged, feed, messages } from "./support.js"

const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK"] // murmur2 spreads these over partitions 0, 1 and 2
/** SIGKILLs at random points per run (REAL_KILLS=<n> for more), and KILL_SEED=<seed> to replay a run's points. */
const kills = Number(process.env["REAL_KILLS"] ?? 3)
const seed = Number(process.env["KILL_SEED"] ?? Date.now())

/** A round of input: ticks 70 s apart (a round of 400 spans ~8 h), a redelivery of each symbol's newest, poison. */
const round = (tag: string, perSymbol: number, from: number) => {
  const ticks = feed(symbols, perSymbol, from, 70_000)
  const newest = ticks.filter((_, i) => i % perSymbol === perSymbol - 1) // within the lateness: duplicates, not late
  const bad = poison(tag, ticks)
  return {
    ticks,
    bad,
    records: [...messages(ticks), ...messages(newest), ...bad.map(({ key, value }) => ({ key, value }))]
  }
}

/** The state of the checkpoints as committed (what a reader sees): the sum of the next offsets. */
const committedOffsets = async (databaseUrl: string) =>
  Number(
    (await query<{ n: string | null }>(databaseUrl, "SELECT sum(next_offset) AS n FROM processor_checkpoints"))[0]!.n ??
      0
  )

/**
 * Waits (bounded) until the processor has a checkpoint transaction open in Postgres (seen in pg_stat_activity: in a
 * transaction, its last statement one of the checkpoint's), then SIGKILLs it at once. Returns whether that
 * transaction then never committed (the committed offsets did not move): the kill landed inside it.
 */
const killInsideCommit = async (databaseUrl: string, processor: Running) => {
  const watcher = new pg.Client({ connectionString: databaseUrl })
  await watcher.connect()
  try {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const open = await watcher.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')
           AND query ~* '^\\s*(UPDATE processor_checkpoints|INSERT INTO (ticks|candles|dead_letters))'`
      )
      if (open.rows[0]!.n !== "0") {
        const before = await watcher.query<{ n: string | null }>(
          "SELECT sum(next_offset) AS n FROM processor_checkpoints"
        )
        const backends = await watcher.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND backend_type = 'client backend'`
        )
        processor.child.kill("SIGKILL")
        await processor.stop("SIGKILL")
        // Until Postgres has ended the dead process's sessions: only then is the open transaction's outcome final (a
        // COMMIT already on its way would land meanwhile; a fixed pause could be outrun by a loaded machine).
        const pids = backends.rows.map((b) => b.pid)
        await eventually(
          async () => {
            const left = await watcher.query<{ n: string }>(
              "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])",
              [pids]
            )
            return left.rows[0]!.n === "0" ? true : undefined
          },
          60_000,
          "the killed processor's Postgres sessions to end",
          20
        )
        return Number(before.rows[0]!.n ?? 0) === (await committedOffsets(databaseUrl))
      }
    }
    throw new Error(`no checkpoint transaction seen within 60 s\n${processor.output().slice(-3000)}`)
  } finally {
    await watcher.end()
  }
}

describe("processor SIGKILLs on real services", () => {
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of rigs) await r.cleanup()
  })

  it(`SIGKILL at ${kills} random points and in a checkpoint transaction: each tick once, candles and DLQ as the reference`, async () => {
    console.log(`kill seed ${seed} (KILL_SEED=${seed} replays these kill points; REAL_KILLS=${kills})`)
    const next = mulberry32(seed)
    const t = await rig("kills", 3, { BATCH_SIZE: "200", LOG_LEVEL: "info" })
    rigs.push(t)
    const input: Array<Tick> = []
    const bad: Array<Poison> = []
    // Each restart joins a new consumer group, so it need not wait out the killed member's session (10 s): the
    // checkpoints are per topic and partition in Postgres, whichever group reads.
    const restart = async (more: Record<string, string> = {}) => {
      const p = await t.start({ KAFKA_GROUP_ID: unique("g"), ...more })
      await logged(p, /claimed partitions/, "a claim after the restart")
      return p
    }
    let current = await restart()
    let midStream = 0
    for (let k = 0; k < kills; k++) {
      const r = round(`kill${k}`, 400, k * 400)
      input.push(...r.ticks)
      bad.push(...r.bad)
      await publish(t.kafkaBrokers, t.topic, r.records)
      const delay = Math.floor(next() * 800) // a round takes about a second here: most kills land inside it
      await sleep(delay)
      expect((await current.stop("SIGKILL")).code).toBe(null)
      const stored = await t.stored()
      if (stored < input.length) midStream++
      console.log(
        `kill ${k + 1}: ${delay} ms after round ${k + 1} was published; ${stored}/${input.length} ticks stored`
      )
      current = await restart()
      await converged(t.databaseUrl, input, `after kill ${k + 1} (seed ${seed})`)
      await deadLettersConverged(t, bad)
    }
    console.log(`${midStream} of ${kills} random kills came before the round was all checkpointed`)

    // Inside a checkpoint transaction: a backlog of 9,000 ticks read in batches of 3,000 makes each transaction long
    // enough to catch. Tried up to three times, until a kill lands before the transaction commits.
    await current.stop("SIGTERM")
    const r = round("commit", 1500, kills * 400)
    input.push(...r.ticks)
    bad.push(...r.bad)
    let aborted = false
    for (let attempt = 1; attempt <= 3 && !aborted; attempt++) {
      current = await restart({ BATCH_SIZE: "3000" })
      if (attempt === 1) await publish(t.kafkaBrokers, t.topic, r.records)
      aborted = await killInsideCommit(t.databaseUrl, current)
      console.log(
        `kill inside a checkpoint transaction, attempt ${attempt}: ${aborted ? "it never committed" : "it committed first"}`
      )
    }
    expect(aborted).toBe(true)
    current = await restart()
    await converged(t.databaseUrl, input, `after the kill inside a checkpoint (seed ${seed})`)
    await deadLettersConverged(t, bad)
    expect((await current.stop("SIGTERM")).code, current.output()).toBe(0)
  }, 300_000)
})
