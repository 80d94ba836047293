import { afterAll, describe, expect, it } from "vitest"
import type { Tick } from "../../src/Domain/Tick.js"
import { publish } from "../../support/kafka.mjs"
import { redis } from "../../support/services.mjs"
import { eventually, sleep } from "../../support/waiting.mjs"
import { deadLettersConverged, logged, type Poison, poison, type Rig, rig } from "./rig.js"
import { converged, epoch, feed, messages, servicesSh } from "./support.js"

const symbols = ["BTC", "ETH", "USDT", "BNB", "XLM", "LINK"]
const base = epoch + 30 * 86_400_000 // this file's own event times: its Redis values tell its ticks apart

// The services crash (SIGKILL, Postgres's immediate stop) or hang (SIGSTOP) while the processor is in the middle of a
// backlog; one processor lives through all of them. After each: every tick once, every candle field equal to the
// reference, every bad record in the DLQ (and in `dead_letters` once).
describe("service crashes on real services", () => {
  const rigs: Array<Rig> = []
  afterAll(async () => {
    for (const r of rigs) await r.cleanup()
    await servicesSh("resume", "kafka").catch(() => undefined)
    for (const s of ["postgres", "kafka", "redis"]) await servicesSh("start", s).catch(() => undefined)
  })

  it("Postgres killed, Kafka SIGKILLed, Redis SIGKILLed, Kafka hung for 20 s: nothing lost, doubled or left out of the DLQ", async () => {
    const t = await rig("crash", 3, { BATCH_SIZE: "100", LOG_LEVEL: "info" })
    rigs.push(t)
    const processor = await t.start()
    await logged(processor, /claimed partitions/, "the first claim")
    const input: Array<Tick> = []
    const bad: Array<Poison> = []
    let n = 0
    /** Publishes a backlog (1,200 ticks by default) and its poison, then waits until the processor is into it. */
    const backlog = async (tag: string, perSymbol = 200) => {
      const ticks = feed(symbols, perSymbol, n * 200, 10_000, base)
      n++
      const poisoned = poison(tag, ticks)
      input.push(...ticks)
      bad.push(...poisoned)
      const before = await t.stored()
      await publish(t.kafkaBrokers, t.topic, [
        ...messages(ticks),
        ...poisoned.map(({ key, value }) => ({ key, value }))
      ])
      await eventually(async () => ((await t.stored()) > before ? true : undefined), 60_000, `${tag}: ticks flowing`)
    }
    const recovered = async (what: string, since: number) => {
      const failed = (e: unknown) => {
        throw new Error(`${String(e)}\n-- processor:\n${processor.output().slice(-6000)}`)
      }
      await converged(t.databaseUrl, input, what).catch(failed)
      await deadLettersConverged(t, bad).catch(failed)
      console.log(`${what}: Postgres equal to the reference ${Date.now() - since} ms later`)
    }

    await backlog("pgkill")
    await servicesSh("kill", "postgres")
    await sleep(1_000)
    await servicesSh("start", "postgres")
    await recovered("postgres killed (immediate) and started", Date.now())

    await backlog("kafkakill")
    await servicesSh("kill", "kafka")
    await servicesSh("start", "kafka")
    await recovered("kafka SIGKILLed and started", Date.now())

    // Redis dead: the durable path does not wait for it; once it is back the cache has each symbol's newest tick.
    await backlog("rediskill")
    await servicesSh("kill", "redis")
    await recovered("redis SIGKILLed (still down)", Date.now())
    await servicesSh("start", "redis")
    // The cache is best-effort: ticks processed before the processor's client reconnected are not written again, so
    // small rounds go on until one of them reaches Redis (bounded).
    const cache = redis(t.redisUrl)
    const cached = async () => {
      for (const s of symbols) {
        const newest = Math.max(...input.filter((x) => x.symbol === s).map((x) => x.eventTime))
        const latest = JSON.parse((await cache.get(`latest:coingecko:${s}-USD`).catch(() => null)) ?? "null") as {
          eventTime: number
        } | null
        if (latest?.eventTime !== newest) return false
      }
      return true
    }
    let rounds = 0
    for (; rounds < 30 && !(await cached()); rounds++) {
      await backlog(`redisback${rounds}`, 1)
      // Up to a second for this round to reach the cache (the loop checks again), no pause once it has.
      await eventually(async () => ((await cached()) ? true : undefined), 1_000, "the round in Redis", 50).catch(
        () => undefined
      )
    }
    console.log(`redis started: each symbol's newest tick in the cache after ${rounds} more rounds of one tick each`)
    expect(await cached(), processor.output().slice(-4000)).toBe(true)
    cache.disconnect()
    await recovered("redis started", Date.now())

    // A hung broker: its sockets stay open and nothing answers.
    await backlog("kafkahang")
    await servicesSh("pause", "kafka")
    await sleep(20_000)
    await servicesSh("resume", "kafka")
    await recovered("kafka SIGSTOPped for 20 s", Date.now())

    expect(processor.child.exitCode, processor.output()).toBe(null)
    expect((await processor.stop("SIGTERM")).code, processor.output()).toBe(0)
  }, 300_000)
})
