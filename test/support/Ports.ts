import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { freePort } from "../../support/processes.mjs"

/**
 * A free port for a process a test starts, from below the kernel's ephemeral range. freePort() (port 0) hands out an
 * ephemeral port and lets it go; a service that binds it after a slow start-up (a minute on a loaded machine) can find
 * it taken by any outgoing connection meanwhile (seen: EADDRINUSE, exit 1, in test/integration/cli.test.ts). The
 * kernel never picks a port below the range by itself, so only another explicit bind can take this one.
 */
export const testPort = async (): Promise<number> => {
  const high = ephemeralLow() - 1
  const low = Math.max(1024, high - 12_000)
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (!reserved().has(port) && (await bindable(port))) return port
  }
  return freePort()
}

const ephemeralLow = () => {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768
  } catch {
    return 32_768
  }
}

/** The test services' ports (scripts/test.sh's defaults and this run's). */
const reserved = () =>
  new Set(
    [
      29092,
      29093,
      26379,
      25432,
      ...["KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REDIS_PORT", "PG_PORT"].map((k) => Number(process.env[k] ?? 0))
    ].filter((p) => p > 0)
  )

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer()
    srv.once("error", () => resolve(false))
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)))
  })
