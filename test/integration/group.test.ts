import { afterAll, describe, it } from "vitest"
import type { Tick } from "../../src/Domain/Tick.js"
import { publish } from "../../support/kafka.mjs"
import { query, redis } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { logged, occurrences, type Rig, rig } from "./rig.js"
import { converged, epoch, feed, messages, services } from "./support.js"

const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK"] // murmur2 spreads these over partitions 0, 1 and 2

// The two tests are independent (each its own topic, group, database and Redis database) and spend most of their time
// waiting out a member's 10 s session: they run concurrently, so the two waits overlap.
describe.concurrent("processor groups on real services", () => {
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of rigs) await r.cleanup()
  })

  it("three processors in one group; SIGKILL one: the others resume its partitions, every candle field equals the reference", async ({
    expect
  }) => {
    const t = await rig("scale")
    rigs.push(t)
    // All three start at once on a fresh database: they race to migrate it, and to claim partitions.
    const members = await Promise.all([t.start(), t.start(), t.start()])
    let killedAt = 0
    const all: Array<Tick> = []
    for (let round = 0; round < 12; round++) {
      const ticks = feed(symbols, 10, round * 10)
      all.push(...ticks)
      await publish(t.kafkaBrokers, t.topic, messages(ticks))
      if (round === 5) {
        await eventually(async () => ((await t.stored()) > 0 ? true : undefined), 150_000, "a first checkpoint")
        expect((await members[0]!.stop("SIGKILL")).code).toBe(null)
        killedAt = Date.now()
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    await converged(t.databaseUrl, all, "after the SIGKILL of a group member")
    console.log(`group member SIGKILLed: all ${all.length} ticks checkpointed ${Date.now() - killedAt} ms later`)
    // Every claim bumps the epoch: partitions that changed hands show it.
    const epochs = await query<{ partition: number; epoch: string; owner: string }>(
      t.databaseUrl,
      "SELECT partition, epoch, owner FROM processor_checkpoints"
    )
    expect(epochs.length).toBe(3)
    expect(epochs.some((e) => Number(e.epoch) > 1)).toBe(true)
    for (const m of members.slice(1)) expect((await m.stop("SIGTERM")).code, m.output()).toBe(0)
  }, 240_000)

  // A member that stops (GC pause, SIGSTOP, a frozen VM) past the session timeout loses its partitions while it still
  // holds processed, uncommitted work; when it wakes, that work must be refused (fenced), never written over the newer
  // owner's candles. The stale member checkpoints rarely, so its work is all uncommitted when it is stopped.
  it("fencing: a member SIGSTOPped past its session wakes, its stale checkpoint is refused, the result equals the reference", async ({
    expect
  }) => {
    // Its own Redis database: the other test writes the same symbols' latest ticks.
    const t = await rig("fence", 3, { REDIS_URL: `${services().redisUrl}/1` })
    rigs.push(t)
    const base = epoch + 7 * 86_400_000 // event times of this test only: its Redis keys tell its ticks apart
    const first = feed(symbols, 30, 0, 5_000, base)
    await publish(t.kafkaBrokers, t.topic, messages(first))
    // Its first checkpoint tick comes at its start (nothing to commit yet), the next one 20 s later.
    const stale = await t.start({ BATCH_SIZE: "100000", CHECKPOINT_INTERVAL: "20 seconds", LOG_LEVEL: "info" })
    await logged(stale, /claimed partitions \d,\d,\d,/, "the first member's claim")
    // It has processed all of it (the fast path has every symbol's newest tick) and committed none of it.
    const cache = redis(t.base["REDIS_URL"]!)
    await eventually(
      async () => {
        for (const s of symbols) {
          const newest = Math.max(...first.filter((x) => x.symbol === s).map((x) => x.eventTime))
          const latest = JSON.parse((await cache.get(`latest:coingecko:${s}-USD`)) ?? "null") as {
            eventTime: number
          } | null
          if (latest?.eventTime !== newest) return undefined
        }
        return true
      },
      60_000,
      "the first member processed every tick"
    )
    cache.disconnect()
    process.kill(stale.child.pid!, "SIGSTOP")
    expect(await t.stored()).toBeLessThan(first.length) // it holds uncommitted work

    // Another member gets the partitions once the stopped one's session (10 s) expires, claims them (epoch + 1) and
    // replays from the start.
    const fresh = await t.start({ LOG_LEVEL: "info" })
    await converged(t.databaseUrl, first, "the new owner's replay")
    const second = feed(symbols, 30, 30, 5_000, base)
    await publish(t.kafkaBrokers, t.topic, messages(second))
    await converged(t.databaseUrl, [...first, ...second], "the new owner's second round")
    const claimed = await query<{ epoch: string }>(t.databaseUrl, "SELECT epoch FROM processor_checkpoints")
    expect(claimed.map((c) => Number(c.epoch))).toEqual([2, 2, 2])

    // Wake the stale member: its next checkpoint (on the rebalance its return causes, or its timer) finds the newer epoch.
    process.kill(stale.child.pid!, "SIGCONT")
    await logged(stale, /have a newer owner; dropping their uncommitted work/, "the stale checkpoint refused")
    // checkpoints_fenced_total counts the partitions named in that line (the processor has no /metrics of its own).
    const fenced = [...stale.output().matchAll(/partitions ([\d,]+) have a newer owner/g)]
      .flatMap((m) => m[1]!.split(","))
      .map(Number)
    console.log(`stale member woke: checkpoints_fenced_total rose by ${fenced.length} (partitions ${fenced.join(",")})`)
    expect(fenced.length).toBeGreaterThan(0)
    // No stale write landed: the candles still equal the reference of everything (its partial candles, of the first
    // round only, would not), and both members go on: a third round reaches Postgres whoever owns what now (a member
    // that kept a partition through its expulsion must claim it afresh, or that partition stalls).
    const third = feed(symbols, 30, 60, 5_000, base)
    await publish(t.kafkaBrokers, t.topic, messages(third))
    await converged(t.databaseUrl, [...first, ...second, ...third], "after the stale member woke").catch(
      (e: unknown) => {
        throw new Error(
          `${String(e)}\n-- stale member:\n${stale.output().slice(-6000)}\n-- other:\n${fresh.output().slice(-6000)}`
        )
      }
    )
    expect(stale.child.exitCode, stale.output()).toBe(null)
    expect(occurrences(fresh, /processor: claimed partitions/)).toBeGreaterThan(0)
    for (const m of [stale, fresh]) expect((await m.stop("SIGTERM")).code, m.output()).toBe(0)
  }, 240_000)
})
