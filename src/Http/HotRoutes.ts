import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { Effect, Either, Exit, Runtime, Schema } from "effect"
import { LatestCache } from "../Cache/LatestCache.js"
import { Store } from "../Store/Store.js"
import { CandlesParams, CandlesPath, LatestParams } from "./Api.js"
import { candlesAnswer, latestAnswer } from "./Handlers.js"
import type { Limiter } from "./Limits.js"
import { MarketResolver } from "./Markets.js"
import { recordRequest } from "./Metrics.js"

// GET /api/latest and GET /api/candles/:symbol, the API's hot reads, straight from node:http: the same handlers
// (Handlers.ts: the same cache and SQL calls, the same decoders and JSON), the same parameter schemas (Api.ts), rate
// limit buckets, metrics and headers, without the per-request cost of the Effect HTTP stack (router, middleware
// chain, request and response objects, a fiber each), which was most of /api/latest's time (docs/BENCHMARKS.md).
// Anything else, and any request these do not answer with a 200 (a parameter that does not decode, a dependency
// down, over the rate limit), goes on to the Effect app, which answers it as the OpenAPI document says.

/** The headers Server.ts's `responses` middleware puts on every response outside /docs. */
export const securityHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'"
} as const

const decodeLatestParams = Schema.decodeUnknownEither(LatestParams)
const decodeCandlesParams = Schema.decodeUnknownEither(CandlesParams)
const decodeCandlesPath = Schema.decodeUnknownEither(CandlesPath)
// A symbol or market as the router would hand it on unchanged (no percent-escapes to decode): the rest go the full way.
const plainSegment = /^[A-Za-z0-9:._-]{1,64}$/

/** The query as a record; undefined when a key repeats (the router's array form: the full path decides). */
const queryOf = (search: string) => {
  const out: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(search)) {
    if (k in out) return undefined
    out[k] = v
  }
  return out
}

/**
 * The hot routes: `answer(url)` is the JSON body of a 200 to GET `url`, or undefined when `url` is not a hot route
 * (or its parameters do not decode); it fails where the full path would answer an error.
 */
export const make = Effect.gen(function* () {
  const latest = latestAnswer(yield* LatestCache)
  const candles = candlesAnswer(yield* Store, yield* MarketResolver)
  const answer = (url: string): Effect.Effect<string, unknown> | undefined => {
    const q = url.indexOf("?")
    const path = q < 0 ? url : url.slice(0, q)
    const query = q < 0 ? {} : queryOf(url.slice(q + 1))
    if (query === undefined) return undefined
    if (path === "/api/latest") {
      const params = decodeLatestParams(query)
      return Either.isLeft(params) ? undefined : Effect.map(latest(params.right), (v) => JSON.stringify(v))
    }
    if (path.startsWith("/api/candles/")) {
      const symbol = path.slice("/api/candles/".length)
      if (!plainSegment.test(symbol)) return undefined
      const p = decodeCandlesPath({ symbol })
      const params = decodeCandlesParams(query)
      if (Either.isLeft(p) || Either.isLeft(params)) return undefined
      return Effect.map(candles(p.right, params.right), (v) => JSON.stringify(v))
    }
    return undefined
  }
  return { answer, runtime: yield* Effect.runtime<never>() }
})
export type HotRoutes = Effect.Effect.Success<typeof make>

/**
 * A request handler for the hot routes: true when it took the request (it calls `next` itself if it then leaves it
 * to the full path), false when the full path should have it now.
 */
export const handler = (hot: HotRoutes, limiter: Limiter) => {
  const run = Runtime.runCallback(hot.runtime)
  return (req: IncomingMessage, res: ServerResponse, next: () => void): boolean => {
    if (req.method !== "GET" || req.url === undefined) return false
    const url = req.url
    const work = hot.answer(url)
    if (work === undefined) return false
    const address = req.socket.remoteAddress ?? "unknown"
    // Over the limit: the full path answers the 429 (this spent nothing).
    if (limiter.take(address) !== undefined) return false
    const start = Date.now()
    run(work, {
      onExit: (exit) => {
        if (Exit.isFailure(exit)) {
          limiter.refund(address)
          return next()
        }
        if (res.destroyed) return
        res.writeHead(200, {
          ...securityHeaders,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(exit.value)
        })
        res.end(exit.value)
        recordRequest(url, 200, (Date.now() - start) / 1000)
      }
    })
    return true
  }
}

/**
 * The server's requests go to `take` first once it is set (the hot routes are built after the server listens);
 * what it does not take goes to the request listeners (the Effect app) as usual.
 */
export const intercept = (server: Server) => {
  let take: ((req: IncomingMessage, res: ServerResponse, next: () => void) => boolean) | undefined
  const emit = server.emit.bind(server) as (event: string, ...args: Array<unknown>) => boolean
  server.emit = ((event: string, ...args: Array<unknown>) => {
    if (event !== "request" || take === undefined) return emit(event, ...args)
    const [req, res] = args as [IncomingMessage, ServerResponse]
    return take(req, res, () => emit("request", req, res)) || emit("request", req, res)
  }) as Server["emit"]
  return { set: (t: typeof take) => void (take = t) }
}
