import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "vitest"
import { Api } from "../../src/Http/Api.js"

// The OpenAPI document's errors (OpenApi.fromApi(Api), what /openapi.json serves): every operation declares each status
// it can answer with the body the server sends, { error, details? }, and 429/503 their Retry-After.

interface Response {
  readonly content?: Record<
    string,
    { readonly schema: { readonly $ref?: string; readonly allOf?: ReadonlyArray<{ readonly $ref?: string }> } }
  >
  readonly headers?: Record<string, { readonly schema: unknown }>
}
interface Operation {
  readonly parameters: ReadonlyArray<{ readonly name: string }>
  readonly responses: Record<string, Response>
}
const doc = OpenApi.fromApi(Api) as unknown as {
  readonly info: { readonly description?: string }
  readonly paths: Record<string, { readonly get: Operation }>
  readonly components: { readonly schemas: Record<string, unknown> }
}

// Written from the handlers and middleware, independently of Errors.ts's helper.
const expected: Record<string, ReadonlyArray<string>> = {
  "/health": ["200"],
  "/ready": ["200", "503"],
  "/api/latest": ["200", "400", "429", "503"],
  "/api/latest/{symbol}": ["200", "400", "404", "429", "503"],
  "/api/symbols": ["200", "429", "503"],
  "/api/candles/{symbol}": ["200", "400", "429", "503"],
  "/api/indicators/{symbol}": ["200", "400", "404", "429", "503"],
  "/api/markets": ["200", "429", "503"],
  "/api/markets/{market}/gaps": ["200", "400", "429", "503"],
  "/api/markets/{market}/checks": ["200", "400", "429", "503"],
  "/api/admin/checkpoints": ["200", "401", "404", "429", "503"],
  "/api/admin/dlq": ["200", "400", "401", "404", "429", "503"]
}

describe("OpenAPI errors", () => {
  it("declares on every operation each status it can answer", () => {
    for (const [path, statuses] of Object.entries(expected)) {
      expect([path, Object.keys(doc.paths[path]!.get.responses).sort()]).toEqual([path, [...statuses].sort()])
    }
  })

  it("gives every error but /ready's the body { error, details? }, and no platform decode error", () => {
    const body = doc.components.schemas["Error"] as {
      readonly required: ReadonlyArray<string>
      readonly properties: Record<string, { readonly type?: string }>
      readonly additionalProperties: boolean
    }
    expect(body).toMatchObject({ type: "object", required: ["error"], additionalProperties: false })
    expect(Object.keys(body.properties)).toEqual(["error", "details"])
    expect(body.properties["error"]).toEqual({ type: "string" })
    expect(body.properties["details"]!.type).toBeUndefined() // any JSON value
    expect(Object.keys(doc.components.schemas)).not.toContain("HttpApiDecodeError")
    for (const [path, { get }] of Object.entries(doc.paths)) {
      for (const [status, response] of Object.entries(get.responses)) {
        if (status === "200" || (path === "/ready" && status === "503")) continue
        // The schema, or (with the status's description beside it) a one-member allOf of it.
        const schema = response.content?.["application/json"]?.schema
        expect([path, status, schema?.$ref ?? schema?.allOf?.[0]?.$ref]).toEqual([
          path,
          status,
          "#/components/schemas/Error"
        ])
      }
    }
  })

  it("declares Retry-After on every 429 and 503", () => {
    for (const [path, { get }] of Object.entries(doc.paths)) {
      for (const status of ["429", "503"]) {
        const response = get.responses[status]
        if (response === undefined) continue
        expect([path, status, response.headers?.["Retry-After"]?.schema]).toEqual([
          path,
          status,
          { type: "integer", minimum: 1 }
        ])
      }
    }
  })

  it("says that other methods get 405 with Allow", () => {
    expect(doc.info.description).toMatch(/405 with `Allow: GET, HEAD, OPTIONS`/)
  })
})
