import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"

// The contract fuzz run: schemathesis (PyPI, in the project's venv: scripts/install-test-tools.sh) generates requests
// from the built service's own /openapi.json, valid and invalid, and checks every answer against the document
// (`--checks all`: status codes, bodies, headers, content types, 5xx, undeclared methods, auth). Any finding fails.
// Bounded: the coverage phase (each parameter's edge values) and 20 generated requests per operation, on a fixed seed.

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : 1
console.log("property seed", seed, "(schemathesis --seed)")

const venv = dirname(process.env["TEST_PYTHON"] ?? ".services/venv/bin/python")
const schemathesis = resolve(venv, "schemathesis")
const hooks = resolve("test/contract/hooks.py")
const adminKey = "contract-test-key"

/** Runs schemathesis to its end; its exit code and its output. */
const run = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; output: string }>((done, fail) => {
    const child = spawn(schemathesis, args, {
      cwd,
      env: { ...process.env, SCHEMATHESIS_HOOKS: hooks, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (b: Buffer) => void (output += b.toString()))
    child.stderr.on("data", (b: Buffer) => void (output += b.toString()))
    child.on("error", fail)
    child.on("close", (code) => done({ code, output }))
  })

describe("the OpenAPI document is what the server does", () => {
  let svc: Running
  let work: string
  beforeAll(async () => {
    if (!existsSync(schemathesis)) {
      throw new Error(`${schemathesis} is missing: run scripts/install-test-tools.sh (npm test does)`)
    }
    work = mkdtempSync(join(tmpdir(), "contract-"))
    svc = await startCli(["service"], {
      SIMULATOR_RATE: "2",
      ADMIN_API_KEY: adminKey,
      DATA_DIR: "memory"
    })
    await untilHealthy(svc)
  }, 180_000)
  afterAll(async () => {
    await svc?.stop("SIGTERM")
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
  })

  it("schemathesis run --checks all finds nothing", async () => {
    const { code, output } = await run(
      [
        "run",
        `${svc.url}/openapi.json`,
        "--checks",
        "all",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "20",
        "--seed",
        String(seed),
        "--generation-database",
        "none",
        // A bound for a loaded machine (PGlite answers in the service's own process), not a timing.
        "--request-timeout",
        "30",
        "--header",
        `Authorization: Bearer ${adminKey}`,
        "--no-color"
      ],
      work
    )
    const summary = output.slice(output.lastIndexOf("SUMMARY"))
    console.log(summary)
    expect(output).toMatch(/Tested: \d+/)
    expect([code, code === 0 ? "" : output]).toEqual([0, ""])
  }, 420_000)
})
