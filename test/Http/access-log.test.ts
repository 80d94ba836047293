import { HttpApp, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { accessLog } from "../../src/Http/Server.js"

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/ok", HttpServerResponse.text("ok")),
  HttpRouter.get("/boom", Effect.die(new Error("kaboom")))
)

/** Runs two requests through the access log at a minimum level; returns the statuses and the lines logged. */
const run = async (minimum: LogLevel.LogLevel) => {
  const lines: Array<{ level: string; text: string; status: unknown }> = []
  const capture = Logger.make(({ annotations, cause, logLevel, message }) => {
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
    return { statuses: [ok.status, boom.status], lines }
  } finally {
    await runtime.dispose()
  }
}

describe("access log", () => {
  it("at info: a line per response, and the 500 at error with its cause", async () => {
    const { statuses, lines } = await run(LogLevel.Info)
    expect(statuses).toEqual([200, 500])
    expect(lines.map((l) => [l.level, l.status])).toEqual([
      ["INFO", 200],
      ["ERROR", 500]
    ])
    expect(lines[1]!.text).toMatch(/kaboom/)
  })

  it("at warning: no line for the 200, the 500 still logged with its cause", async () => {
    const { statuses, lines } = await run(LogLevel.Warning)
    expect(statuses).toEqual([200, 500])
    expect(lines.map((l) => [l.level, l.status])).toEqual([["ERROR", 500]])
    expect(lines[0]!.text).toMatch(/kaboom/)
  })
})
