import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServer } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { unrouted } from "../../src/Http/Methods.js"

// Requests the router has no route for, through `unrouted` on a small API of its own: a known path asked with another
// method is a 405 with Allow, OPTIONS a 204 with Allow, an unknown path a JSON 404. (fetch refuses to make a TRACE
// request: the contract run, test/contract, sends those over HTTP.)

const TestApi = HttpApi.make("test").add(
  HttpApiGroup.make("things")
    .add(
      HttpApiEndpoint.get("thing", "/things/:id")
        .setPath(Schema.Struct({ id: Schema.String }))
        .addSuccess(Schema.String)
    )
    .add(HttpApiEndpoint.get("all", "/things").addSuccess(Schema.String))
)
const handlers = HttpApiBuilder.group(TestApi, "things", (h) =>
  h.handle("thing", ({ path }) => Effect.succeed(path.id)).handle("all", () => Effect.succeed("all"))
)
const { handler, dispose } = HttpApiBuilder.toWebHandler(
  Layer.mergeAll(HttpApiBuilder.api(TestApi).pipe(Layer.provide(handlers)), unrouted, HttpServer.layerContext)
)
afterAll(() => dispose())

const send = async (method: string, path: string) => {
  const res = await handler(new Request(`http://api.test${path}`, { method }))
  const text = await res.text()
  return {
    status: res.status,
    allow: res.headers.get("allow"),
    body: text === "" ? null : (JSON.parse(text) as unknown)
  }
}

describe("methods without a route", () => {
  it("answers a known path's GET as before", async () => {
    expect(await send("GET", "/things/7")).toEqual({ status: 200, allow: null, body: "7" })
  })

  it("answers other methods on a known path with 405 and Allow, in the API's error shape", async () => {
    for (const method of ["PURGE", "POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of ["/things", "/things/7", "/things/7?x=1"]) {
        const res = await send(method, path)
        expect([method, path, res.status, res.allow]).toEqual([method, path, 405, "GET, HEAD, OPTIONS"])
        expect(res.body).toEqual({
          error: `${method} is not allowed here: GET, HEAD, OPTIONS`,
          details: { allow: ["GET", "HEAD", "OPTIONS"] }
        })
      }
    }
  })

  it("answers OPTIONS with 204 and Allow", async () => {
    expect(await send("OPTIONS", "/things/7")).toEqual({ status: 204, allow: "GET, HEAD, OPTIONS", body: null })
  })

  it("answers an unknown path, whatever the method, with a JSON 404", async () => {
    for (const [method, path] of [
      ["GET", "/nothing"],
      ["PURGE", "/nothing"],
      ["GET", "/things/7/more"],
      ["DELETE", "/"]
    ] as const) {
      expect([method, path, await send(method, path)]).toEqual([
        method,
        path,
        { status: 404, allow: null, body: { error: "not found" } }
      ])
    }
  })
})
