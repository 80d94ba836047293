import type { ChildProcess } from "node:child_process"
import { startCli as startBuiltCli } from "../../support/processes.mjs"
import { eventually } from "../../support/waiting.mjs"
import { testPort } from "../support/Ports.js"

export interface Running {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => string
  /** Sends the signal and resolves with the exit code (null if killed by a signal) and how long it took. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; millis: number }>
}

/** Starts `node dist/main.js <args>` (the built CLI, as users run it) on a free port, without services unless given. */
export const startCli = async (
  args: ReadonlyArray<string>,
  env: Record<string, string | undefined>
): Promise<Running> => {
  const port = await testPort()
  const proc = startBuiltCli(args, {
    // SOURCE=simulator unless a test says otherwise: `auto` would poll the real CoinGecko on a machine with internet.
    // The request rate limit is lifted for tests that poll; test/Http/limits.test.ts sets its own.
    KAFKA_BROKERS: "",
    REDIS_URL: "",
    DATABASE_URL: "",
    // In memory unless a test gives a directory: each test starts afresh, and none locks the working tree's ./data.
    DATA_DIR: "memory",
    // A simulator starts live unless a test asks for its day of history first.
    HISTORY: "0",
    PORT: String(port),
    LOG_LEVEL: "warning",
    SOURCE: "simulator",
    RATE_LIMIT: "100000",
    RATE_LIMIT_BURST: "100000",
    ...env
  })
  return {
    child: proc.child,
    url: `http://127.0.0.1:${port}`,
    output: proc.output,
    stop: async (signal = "SIGTERM") => {
      const stopped = await proc.stop(signal, 15_000)
      if (stopped.timedOut) throw new Error(`process did not exit within 15 s of ${signal}\n${proc.output()}`)
      return { code: stopped.code, millis: stopped.millis }
    }
  }
}

/**
 * Reads an SSE response until `count` events named `name` arrived; returns their parsed data and ids. `onEvent` hears
 * of each as it arrives (e.g. to act once the first one is in, rather than after a pause).
 */
export const readEvents = async (
  url: string,
  name: string,
  count: number,
  headers: Record<string, string> = {},
  onEvent: (n: number) => void = () => undefined
) => {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal })
  if (res.body === null) throw new Error("no body")
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  const events: Array<{ id: string | undefined; data: unknown }> = []
  let buffer = ""
  try {
    while (events.length < count) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      // One chunk can hold more events than asked for: take `count`, no more (the callers count them).
      while (events.length < count && (end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields = Object.fromEntries(
          block
            .split("\n")
            .filter((l) => !l.startsWith(":"))
            .map((l) => {
              const i = l.indexOf(":")
              return [l.slice(0, i), l.slice(i + 1).trimStart()]
            })
        )
        if (fields["event"] === name) {
          events.push({ id: fields["id"], data: JSON.parse(fields["data"] ?? "null") })
          onEvent(events.length)
        }
      }
    }
  } finally {
    controller.abort()
  }
  return { status: res.status, contentType: res.headers.get("content-type"), events }
}

/**
 * Until the service answers /health. Bounded, not timed: an embedded service on a loaded 2-core machine can take a
 * minute to start (PGlite), and the bound only has to say "it never came up".
 */
export const untilHealthy = (svc: Running, timeoutMs = 150_000) =>
  eventually(async () => (await fetch(`${svc.url}/health`)).ok || undefined, timeoutMs, "/health")
