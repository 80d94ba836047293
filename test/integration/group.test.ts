import { afterAll, describe, expect, it } from "vitest"
import type { Tick } from "../../src/Domain/Tick.js"
import { eventually } from "../e2e/support.js"
import { type Rig, rig } from "./rig.js"
import { converged, feed, messages, publish, query } from "./support.js"

const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK"] // murmur2 spreads these over partitions 0, 1 and 2

describe("processor groups on real services", () => {
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of rigs) await r.cleanup()
  })

  it("three processors in one group; SIGKILL one: the others resume its partitions, every candle field equals the reference", async () => {
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
        await eventually(async () => ((await t.stored()) > 0 ? true : undefined), 60_000, "a first checkpoint")
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
})
