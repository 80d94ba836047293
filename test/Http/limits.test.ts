import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"

const up = async (svc: Running) => {
  await untilHealthy(svc)
}

describe("limits, authentication and headers (built service)", () => {
  let svc: Running
  let keyless: Running
  beforeAll(async () => {
    ;[svc, keyless] = await Promise.all([
      startCli(["service"], {
        ADMIN_API_KEY: "s3cret-admin-key",
        RATE_LIMIT: "2",
        RATE_LIMIT_BURST: "5",
        CORS_ORIGINS: "https://dash.example.org"
      }),
      startCli(["service"], {})
    ])
    await Promise.all([up(svc), up(keyless)])
  }, 180_000)
  afterAll(async () => {
    await Promise.all([svc.stop("SIGTERM"), keyless.stop("SIGTERM")])
  })

  it("admin endpoints need the bearer key, and are off without one", async () => {
    const url = `${svc.url}/api/admin/checkpoints`
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: { authorization: "Bearer wrong" } })).status).toBe(401)
    const ok = await eventually(
      async () => {
        const res = await fetch(url, { headers: { authorization: "Bearer s3cret-admin-key" } })
        const body = (await res.json()) as { checkpoints: Array<{ partition: number }> }
        return res.status === 200 && body.checkpoints.length === 3 ? body : undefined
      },
      30_000,
      "three checkpoints"
    )
    expect(ok.checkpoints.map((c) => c.partition).sort()).toEqual([0, 1, 2])
    const off = await fetch(`${keyless.url}/api/admin/checkpoints`, { headers: { authorization: "Bearer anything" } })
    expect(off.status).toBe(404)
    expect(((await off.json()) as { error: string }).error).toMatch(/ADMIN_API_KEY/)
  })

  it("answers 429 with Retry-After once an address has used its bucket; /health is not limited", async () => {
    await new Promise((r) => setTimeout(r, 3000)) // a full bucket
    const statuses: Array<number> = []
    let limited: Response | undefined
    // until the first 429 (not a fixed 12 calls, which on a loaded machine could take longer than the bucket lasts)
    for (let i = 0; i < 200 && limited === undefined; i++) {
      const res = await fetch(`${svc.url}/api/latest`)
      statuses.push(res.status)
      if (res.status === 429) limited = res
      else await res.arrayBuffer()
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0)
    expect(statuses.slice(0, 4).every((s) => s !== 429)).toBe(true)
    expect(limited!.headers.get("retry-after")).toMatch(/^\d+$/)
    expect(((await limited!.json()) as { error: string }).error).toMatch(/rate limit/)
    for (let i = 0; i < 10; i++) expect((await fetch(`${svc.url}/health`)).status).toBe(200)
  })

  it("CORS only for the configured origins; security headers on every page", async () => {
    await new Promise((r) => setTimeout(r, 3000))
    const allowed = await fetch(`${svc.url}/api/symbols`, { headers: { origin: "https://dash.example.org" } })
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://dash.example.org")
    const other = await fetch(`${svc.url}/api/symbols`, { headers: { origin: "https://evil.example.com" } })
    // (With one allowed origin the header names it whoever asks; the browser then refuses any other origin.)
    expect(other.headers.get("access-control-allow-origin")).not.toBe("https://evil.example.com")
    const nocors = await fetch(`${keyless.url}/api/symbols`, { headers: { origin: "https://dash.example.org" } })
    expect(nocors.headers.get("access-control-allow-origin")).toBe(null)

    const page = await fetch(`${svc.url}/`)
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'")
    expect(page.headers.get("x-content-type-options")).toBe("nosniff")
    expect(page.headers.get("x-frame-options")).toBe("DENY")
    expect(page.headers.get("referrer-policy")).toBe("no-referrer")
  })
})
