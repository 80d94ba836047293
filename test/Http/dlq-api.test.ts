import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"

// GET /api/admin/dlq against the built service fed a replay with 30 good BTC ticks, then one 10 minutes behind the
// newest (late: ALLOWED_LATENESS is 2 minutes) and one an hour ahead of now (future: MAX_FUTURE_SKEW is 5 minutes).
const now = Date.now()
const base = now - 30 * 60_000
const tick = (eventTime: number, price: number) => ({ coinId: "bitcoin", symbol: "BTC", price, volume: 1, eventTime })
const good = Array.from({ length: 30 }, (_, i) => tick(base + i * 10_000, 100 + i))
const late = tick(base + 29 * 10_000 - 10 * 60_000, 42)
const future = tick(now + 60 * 60_000, 43)

interface Letter {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly reason: string
  readonly recordedAt: number
  readonly letter: { readonly reason: string; readonly detail: string; readonly offset: number; readonly value: string }
}

describe("GET /api/admin/dlq (built service, replayed late and future ticks)", () => {
  let svc: Running
  let dir: string
  const key = "dlq-admin-key"
  const get = async (query = "", auth = true) => {
    const res = await fetch(
      `${svc.url}/api/admin/dlq${query}`,
      auth ? { headers: { authorization: `Bearer ${key}` } } : {}
    )
    return { status: res.status, body: (await res.json()) as { deadLetters: Array<Letter>; error?: string } }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlq-api-"))
    const file = join(dir, "ticks.ndjson")
    writeFileSync(file, `${[...good, late, future].map((t) => JSON.stringify(t)).join("\n")}\n`)
    svc = await startCli(["service"], {
      SOURCE: `replay:${file}`,
      REPLAY_SPEED: "max",
      CHECKPOINT_INTERVAL: "500 millis",
      ADMIN_API_KEY: key
    })
  }, 90_000)

  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })

  it("lists each unusable record once with its reason and original bytes, newest first; filters by reason", async () => {
    const all = await eventually(
      async () => {
        const r = await get()
        return r.status === 200 && r.body.deadLetters.length === 2 ? r.body.deadLetters : undefined
      },
      60_000,
      "two dead letters"
    )
    expect(all.map((d) => d.reason).sort()).toEqual(["future", "late"])
    for (const d of all) {
      expect(d.topic).toBe("crypto-prices")
      expect(d.letter.reason).toBe(d.reason)
      expect(d.letter.offset).toBe(d.offset)
      const original = JSON.parse(d.letter.value) as { eventTime: number; price: number }
      expect(original.eventTime).toBe(d.reason === "late" ? late.eventTime : future.eventTime)
      expect(d.letter.detail).toMatch(d.reason === "late" ? /behind the watermark/ : /after the record's timestamp/)
    }
    expect(all[0]!.recordedAt).toBeGreaterThanOrEqual(all[1]!.recordedAt)

    const onlyLate = await get("?reason=late")
    expect(onlyLate.body.deadLetters.map((d) => d.letter.value)).toEqual([
      all.find((d) => d.reason === "late")!.letter.value
    ])
    expect((await get("?limit=1")).body.deadLetters).toHaveLength(1)
  }, 90_000)

  it("refuses a bad limit or reason with a 400 naming it, and answers 401 without the key", async () => {
    const bad = await get("?limit=0")
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatch(/limit/)
    const reason = await get("?reason=nope")
    expect(reason.status).toBe(400)
    expect(reason.body.error).toMatch(/reason/)
    expect((await get("", false)).status).toBe(401)
  })
})
