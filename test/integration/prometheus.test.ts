import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { parse, stringify } from "yaml"
import { type Proc, startProcess } from "../../support/processes.mjs"
import { createDatabase, unique } from "../../support/services.mjs"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { testPort } from "../support/Ports.js"
import { services } from "./support.js"

// A real Prometheus (Debian's binary, which scripts/prometheus-check.sh installs) with deploy/prometheus's rules and
// its jobs, pointed at a built `service` (embedded adapters) and a `processor` alone with STATUS_PORT (real services).
// Through Prometheus's HTTP API: both targets up, a series of the service's there, every rule evaluated without error.

const Targets = Schema.Struct({
  data: Schema.Struct({
    activeTargets: Schema.Array(
      Schema.Struct({ labels: Schema.Record({ key: Schema.String, value: Schema.String }), health: Schema.String })
    )
  })
})
const Query = Schema.Struct({
  data: Schema.Struct({ result: Schema.Array(Schema.Struct({ value: Schema.Tuple(Schema.Number, Schema.String) })) })
})
const Rules = Schema.Struct({
  data: Schema.Struct({
    groups: Schema.Array(
      Schema.Struct({
        name: Schema.String,
        rules: Schema.Array(
          Schema.Struct({ name: Schema.String, health: Schema.String, lastError: Schema.optional(Schema.String) })
        )
      })
    )
  })
})

const api = async <A, I>(schema: Schema.Schema<A, I>, url: string): Promise<A> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
  return Schema.decodeUnknownSync(schema)(await res.json())
}

const prometheusBinary = () => {
  try {
    return execFileSync("sh", ["-c", "command -v prometheus"]).toString().trim()
  } catch {
    throw new Error("no prometheus binary: scripts/prometheus-check.sh installs Debian's (npm test runs it)")
  }
}

describe("Prometheus scraping the built services", () => {
  const env = services()
  const dir = mkdtempSync(join(tmpdir(), "prometheus-"))
  const running: Array<Running> = []
  let prometheus: Proc | undefined

  afterAll(async () => {
    await prometheus?.stop("SIGTERM", 15_000)
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  })

  it("has both targets up, the service's series, and every alert rule evaluating cleanly", async () => {
    const service = await startCli(["service"], {})
    running.push(service)
    const statusPort = await testPort()
    const processor = await startCli(["processor"], {
      KAFKA_BROKERS: env.kafkaBrokers,
      REDIS_URL: env.redisUrl,
      DATABASE_URL: await createDatabase(env.databaseUrl, unique("prom")),
      KAFKA_TOPIC: unique("prom"),
      KAFKA_GROUP_ID: unique("prom"),
      STATUS_PORT: String(statusPort)
    })
    running.push(processor)
    await untilHealthy(service)
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${statusPort}/health`)).ok || undefined,
      150_000,
      "processor /health on STATUS_PORT"
    )

    // The repository's config, its jobs pointed at these processes instead of the compose service names.
    const config = parse(readFileSync("deploy/prometheus/prometheus.yml", "utf8")) as {
      global: unknown
      scrape_configs: Array<{ job_name: string }>
    }
    const target = { service: service.url.replace("http://", ""), processor: `127.0.0.1:${statusPort}` }
    const jobs = config.scrape_configs.map((j) => j.job_name)
    expect(jobs).toEqual(expect.arrayContaining(["service", "producer", "processor", "api"]))
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [join(process.cwd(), "deploy/prometheus/alerts.yml")],
        scrape_configs: Object.entries(target).map(([job, address]) => ({
          job_name: job,
          static_configs: [{ targets: [address] }]
        }))
      })
    )
    const port = await testPort()
    const url = `http://127.0.0.1:${port}`
    prometheus = startProcess(
      prometheusBinary(),
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`
      ],
      { env: { ...process.env }, name: "prometheus", cwd: dir }
    )
    const fail = (what: string) => `${what}\n${prometheus?.output().slice(-3_000)}`
    await eventually(async () => (await fetch(`${url}/-/ready`)).ok || undefined, 60_000, fail("Prometheus ready"))

    const health = await eventually(
      async () => {
        const { data } = await api(Targets, `${url}/api/v1/targets`)
        const up = Object.fromEntries(data.activeTargets.map((t) => [t.labels["job"] ?? "", t.health]))
        return up["service"] === "up" && up["processor"] === "up" ? up : undefined
      },
      60_000,
      fail("both targets up")
    )
    expect(health).toEqual({ service: "up", processor: "up" })

    const processed = await eventually(
      async () => {
        const { data } = await api(
          Query,
          `${url}/api/v1/query?query=${encodeURIComponent('ticks_processed_total{job="service"}')}`
        )
        const value = Number(data.result[0]?.value[1] ?? "0")
        return value > 0 ? value : undefined
      },
      60_000,
      fail("ticks_processed_total from the service")
    )
    expect(processed).toBeGreaterThan(0)

    // Every rule has been evaluated against these series, without an error.
    const rules = await eventually(
      async () => {
        const { data } = await api(Rules, `${url}/api/v1/rules`)
        const all = data.groups.flatMap((g) => g.rules)
        return all.length > 0 && all.every((r) => r.health !== "unknown") ? all : undefined
      },
      60_000,
      fail("the rules evaluated")
    )
    const expected = parse(readFileSync("deploy/prometheus/alerts.yml", "utf8")) as {
      groups: Array<{ rules: Array<{ alert: string }> }>
    }
    expect(rules.map((r) => r.name).sort()).toEqual(expected.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort())
    expect(rules.filter((r) => r.health !== "ok")).toEqual([])
  }, 300_000)
})
