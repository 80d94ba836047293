import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"

interface Family {
  readonly name: string
  readonly type: string
  readonly samples: ReadonlyArray<{
    readonly name: string
    readonly labels: Record<string, string>
    readonly value: number
  }>
}

/** The project's venv (scripts/install-test-tools.sh; npm test sets TEST_PYTHON), where prometheus-client is. */
const python = process.env["TEST_PYTHON"] ?? ".services/venv/bin/python"

/** Prometheus's own reference parser (the Python client's), not string matching. */
const parse = (text: string): Array<Family> => {
  if (!existsSync(python)) throw new Error(`${python} is missing: run scripts/install-test-tools.sh (npm test does)`)
  return JSON.parse(
    execFileSync(python, ["test/Http/prometheus_parse.py"], { input: text }).toString()
  ) as Array<Family>
}

describe("GET /metrics (built service)", () => {
  let svc: Running
  beforeAll(async () => {
    svc = await startCli(["service"], { SIMULATOR_RATE: "5", CHECKPOINT_INTERVAL: "500 millis" })
    await untilHealthy(svc)
  }, 180_000)
  afterAll(async () => {
    await svc.stop("SIGTERM")
  })

  it("parses, and carries the pipeline's counters, gauges and histograms", async () => {
    await fetch(`${svc.url}/api/latest`)
    await fetch(`${svc.url}/api/candles/BTC?interval=1m`)
    const samples = await eventually(
      async () => {
        await fetch(`${svc.url}/ready`)
        const res = await fetch(`${svc.url}/metrics`)
        expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
        const families = parse(await res.text())
        const all = families.flatMap((f) => f.samples.map((s) => ({ ...s, type: f.type })))
        // dependency_up follows the last readiness probe, which may time out (1 s) on a loaded machine: wait for a
        // scrape after a probe that saw every dependency answer, as a scraper would see on a healthy one.
        const up = (dependency: string) =>
          all.some((s) => s.name === "dependency_up" && s.labels["dependency"] === dependency && s.value === 1)
        const ready = ["database", "cache", "bus"].every(up)
        return ready && all.some((s) => s.name === "checkpoints_total" && s.value > 0) ? all : undefined
      },
      120_000,
      "a checkpoint, and every dependency up, in /metrics"
    )
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))

    expect(find("ticks_processed_total")[0]?.type).toBe("counter")
    expect(find("ticks_processed_total")[0]!.value).toBeGreaterThan(0)
    expect(find("checkpoint_duration_seconds_count")[0]!.value).toBeGreaterThan(0)
    expect(find("checkpoint_duration_seconds_bucket", { le: "+Inf" })[0]!.value).toBe(
      find("checkpoint_duration_seconds_count")[0]!.value
    )
    expect(find("checkpoint_duration_seconds_count")[0]!.type).toBe("histogram")
    expect(
      find("consumer_lag_records")
        .map((s) => s.labels["partition"])
        .sort()
    ).toEqual(["0", "1", "2"])
    expect(
      find("http_request_duration_seconds_count", { route: "/api/latest", status: "200" })[0]!.value
    ).toBeGreaterThan(0)
    expect(find("http_request_duration_seconds_count", { route: "/api/candles/:symbol" }).length).toBe(1)
    expect(find("sse_clients")[0]?.type).toBe("gauge")
    expect(find("producer_ticks_published_total")[0]!.value).toBeGreaterThan(0)
    for (const dependency of ["database", "cache", "bus"])
      expect(find("dependency_up", { dependency })[0]?.value).toBe(1)
  }, 150_000)
})
