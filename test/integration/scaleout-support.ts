import { createServer, type Server, type Socket, connect as tcp } from "node:net"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as RedisCache from "../../src/Cache/Redis.js"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import type { Update } from "../../src/Domain/Update.js"

// What the scale-out test shares: a round-robin TCP proxy in front of the api instances (as a load balancer without
// stickiness would), an SSE client that keeps every event with its id as text, and the processor's cache write.

/** A TCP proxy sending each new connection to the next upstream in turn; `log` names the upstream of each. */
export const roundRobin = async (upstreams: ReadonlyArray<number>) => {
  const log: Array<number> = []
  const sockets = new Set<Socket>()
  let next = 0
  const server: Server = createServer((down) => {
    const port = upstreams[next++ % upstreams.length]!
    log.push(port)
    const up = tcp(port, "127.0.0.1")
    for (const s of [down, up]) {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
      s.on("error", () => undefined)
    }
    down.pipe(up).pipe(down)
    down.on("close", () => up.destroy())
    up.on("close", () => down.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("proxy: no port")
  return {
    url: `http://127.0.0.1:${address.port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

export interface Event {
  readonly id: string | undefined
  readonly event: string
  readonly data: Record<string, unknown>
}

/** An SSE stream read as text: every event (comments skipped), its id as the server wrote it. */
export const sse = async (url: string, headers: Record<string, string> = {}) => {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal })
  if (res.status !== 200 || res.body === null) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  const events: Array<Event> = []
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const lines = buffer.slice(0, end).split("\n")
        buffer = buffer.slice(end + 2)
        const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2)
        const event = field("event")
        if (event === undefined) continue
        events.push({ id: field("id"), event, data: JSON.parse(field("data") ?? "null") as Record<string, unknown> })
      }
    }
  })().catch(() => undefined)
  return {
    events,
    /** Until `predicate` holds (bounded: a bound for "it never came", not a timing assertion). */
    until: async (predicate: (events: ReadonlyArray<Event>) => boolean, what: string, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate(events)) {
        if (Date.now() > deadline)
          throw new Error(`${what}: not within ${timeoutMs} ms; got ${JSON.stringify(events.slice(-3))}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    close: async () => {
      controller.abort()
      await pump
    }
  }
}

export const tradeIds = (events: ReadonlyArray<Event>) =>
  events.filter((e) => e.event === "tick").map((e) => e.data["tradeId"] as number)

const t0 = Date.UTC(2025, 10, 20, 12)

/** A trade of `market` with id `tradeId`, as the processor hands it to the cache. */
export const trade = (market: Market, tradeId: number): Update => ({
  _tag: "tick",
  tick: new Tick({
    symbol: market.split(":")[1]!.split("-")[0]!,
    coinId: market,
    price: 100 + (tradeId % 100),
    volume: 1,
    eventTime: t0 + tradeId,
    source: "binance",
    ingestTime: t0 + tradeId,
    market,
    tradeId,
    side: "buy"
  })
})

/** The processor's cache writer on the real Redis (SETEX, SADD, PUBLISH + XADD per batch), until `close`. */
export const redisWriter = async (redisUrl: string) => {
  const scope = await Effect.runPromise(Scope.make())
  const cache = await Effect.runPromise(Scope.extend(RedisCache.make(Redacted.make(redisUrl), 60), scope))
  // The client connects in the background: writes fail fast until it is ready.
  const write = async (updates: ReadonlyArray<Update>) => {
    for (let attempt = 0; ; attempt++) {
      const exit = await Effect.runPromiseExit(cache.write([], updates))
      if (Exit.isSuccess(exit)) return
      if (attempt > 100) throw new Error(`Redis write: ${JSON.stringify(exit.cause)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return { write, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/**
 * deploy/haproxy/haproxy.cfg itself in front of `upstreams` on loopback, when haproxy is installed
 * (scripts/haproxy-check.sh installs it): the checked-in file with only its bind port, maxconn and servers replaced.
 * `log` names the server of each request, from HAProxy's own request log (a line when the response starts: logasap).
 */
export const haproxy = async (upstreams: ReadonlyArray<number>, port: number) => {
  const { readFileSync, writeFileSync, mkdtempSync } = await import("node:fs")
  const { tmpdir } = await import("node:os")
  const { join } = await import("node:path")
  const { spawn, spawnSync } = await import("node:child_process")
  if (spawnSync("haproxy", ["-v"]).status !== 0) return undefined
  const config = readFileSync(new URL("../../deploy/haproxy/haproxy.cfg", import.meta.url), "utf8")
    .replace(/^\s*bind :8080$/m, `  bind 127.0.0.1:${port}`)
    // Within this machine's open-file limit (the container's is higher: docker-compose.yml's ulimits).
    .replace(/^\s*maxconn \d+$/m, "  maxconn 1000")
    .replace(/^\s*server-template .*$/m, upstreams.map((p, i) => `  server api${i} 127.0.0.1:${p} check`).join("\n"))
  const file = join(mkdtempSync(join(tmpdir(), "haproxy-")), "haproxy.cfg")
  writeFileSync(file, config)
  const child = spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr.on("data", (d: Buffer) => (output += d.toString()))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false
    )
    if (ok) break
    if (i > 200 || child.exitCode !== null) throw new Error(`haproxy did not come up:\n${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url,
    log: () =>
      output
        .split("\n")
        .filter((line) => line.includes("/api/events"))
        .flatMap((line) => {
          const m = / api\/api(\d) /.exec(line)
          return m === null ? [] : [upstreams[Number(m[1])]!]
        }),
    close: async () => {
      child.kill("SIGTERM")
      await new Promise((r) => child.once("exit", r))
    }
  }
}
