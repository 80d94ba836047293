// The FastAPI peer of the rest scenario (bench/peers/fastapi/): installed into a venv from its pinned requirements,
// run under uvicorn with --workers 1 or 2. See bench/peers/README.md, "FastAPI".
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "../../support/paths.mjs"
import { startProcess } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"

const appDir = join(repoRoot, "bench/peers/fastapi")
const requirements = join(appDir, "requirements.txt")
// A venv of the bench's own, made with the Python of the test tools' venv (scripts/install-test-tools.sh) when there
// is one: FastAPI's pins (Starlette, Pydantic) must not move schemathesis's under the contract test.
const testVenvPython = join(repoRoot, ".services/venv/bin/python")
const venv = join(repoRoot, ".services/bench-venv")
const python = join(venv, "bin/python")
// The requirements' digest once they are installed: the cache key (a changed pin installs again).
const stamp = join(venv, ".fastapi-peer-requirements")
const digest = () => createHash("sha256").update(readFileSync(requirements)).digest("hex")

/** True when the venv has exactly these requirements installed (no pip run needed). */
export const installed = () => existsSync(python) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest()

/** Creates the venv (if needed) and pip-installs the pinned requirements, unless already done; returns the versions. */
export const install = () => {
  if (!installed()) {
    const t0 = Date.now()
    const base = existsSync(testVenvPython) ? testVenvPython : "python3"
    if (!existsSync(python)) execFileSync(base, ["-m", "venv", venv], { stdio: "inherit" })
    execFileSync(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", requirements], {
      stdio: ["ignore", "inherit", "inherit"]
    })
    writeFileSync(stamp, digest())
    log(`fastapi peer: installed into ${venv} in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  }
  return versions()
}

const versions = () => {
  const script =
    "import importlib.metadata as m, sys, json; " +
    "print(json.dumps({'python': sys.version.split()[0], **{p: m.version(p) for p in " +
    "['fastapi', 'starlette', 'pydantic', 'uvicorn', 'uvloop', 'httptools', 'redis', 'hiredis', 'psycopg', " +
    "'psycopg-binary', 'psycopg-pool', 'orjson']}}))"
  return JSON.parse(execFileSync(python, ["-c", script], { encoding: "utf8" }))
}

/**
 * uvicorn serving bench/peers/fastapi/app.py on 127.0.0.1:port with `workers` worker processes, no access log. With
 * one worker uvicorn serves in its own process; with more, a supervisor forks them (count the whole process tree).
 */
export const start = ({ port, workers, redisUrl, databaseUrl }) =>
  startProcess(
    python,
    [
      "-m",
      "uvicorn",
      "app:app",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--workers",
      String(workers),
      "--no-access-log",
      "--log-level",
      "warning"
    ],
    {
      name: `fastapi-${workers}`,
      cwd: appDir,
      env: { PATH: process.env.PATH ?? "", REDIS_URL: redisUrl, DATABASE_URL: databaseUrl }
    }
  )
