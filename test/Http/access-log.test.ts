import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { accessLog } from "../../src/Http/Server.js"

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/ok", HttpServerResponse.text("ok")),
  HttpRouter.get("/boom", Effect.die(new Error("kaboom"))),
  HttpRouter.get("/refused", HttpServerResponse.text("no", { status: 429 }))
)

/** Runs three requests (200, 500, 429) through the access log at a minimum level; the statuses and the lines logged. */
const run = async (minimum: LogLevel.LogLevel) => {
  const lines: Array<{ level: string; text: string; status: unknown }> = []
  const capture = Logger.make(({ annotations, cause, logLevel, message }) => {
    // The access log's lines only (they carry http.status), not the runtime's own debug lines.
    if (!annotations.pipe((a) => [...a].some(([k]) => k === "http.status"))) return
    lines.push({
      level: logLevel.label,
      text: `${String(message)} ${cause._tag === "Empty" ? "" : String(cause)}`,
      status: annotations.pipe((a) => [...a].find(([k]) => k === "http.status")?.[1])
    })
  })
  const runtime = ManagedRuntime.make(
    Layer.merge(Logger.replace(Logger.defaultLogger, capture), Logger.minimumLogLevel(minimum))
  )
  try {
    const handler = HttpApp.toWebHandlerRuntime(await runtime.runtime())(accessLog(minimum)(app))
    const ok = await handler(new Request("http://localhost/ok"))
    const boom = await handler(new Request("http://localhost/boom"))
    const refused = await handler(new Request("http://localhost/refused"))
    return { statuses: [ok.status, boom.status, refused.status], lines }
  } finally {
    await runtime.dispose()
  }
}

describe("access log", () => {
  it("at info (the default): no line for the 200, the 500 at error with its cause, the 429 at info", async () => {
    const { statuses, lines } = await run(LogLevel.Info)
    expect(statuses).toEqual([200, 500, 429])
    expect(lines.map((l) => [l.level, l.status])).toEqual([
      ["ERROR", 500],
      ["INFO", 429]
    ])
    expect(lines[0]!.text).toMatch(/kaboom/)
  })

  it("at debug: a line per response, the 200 at debug", async () => {
    const { lines } = await run(LogLevel.Debug)
    expect(lines.map((l) => [l.level, l.status])).toEqual([
      ["DEBUG", 200],
      ["ERROR", 500],
      ["INFO", 429]
    ])
  })

  it("at warning: only the 500, still with its cause", async () => {
    const { statuses, lines } = await run(LogLevel.Warning)
    expect(statuses).toEqual([200, 500, 429])
    expect(lines.map((l) => [l.level, l.status])).toEqual([["ERROR", 500]])
    expect(lines[0]!.text).toMatch(/kaboom/)
  })
})
