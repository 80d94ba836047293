import type * as Http from "node:http"
import * as F from "./Formats.js"

/** The fake venue's REST side: its venue's trade-history endpoint, behind scripted rate limits. */

export interface RestLimit {
  /** 429, or Binance's 418 ban. */
  readonly status: 429 | 418
  /** Retry-After, in seconds. */
  readonly retryAfter?: number
  /** How many requests are refused (default 1). */
  readonly times?: number
}

export interface RestLog {
  readonly url: string
  readonly status: number
}

/** A request handler for `venue`; `limits` is consumed front first, `log` gets every request. */
export const restHandler =
  (venue: F.FakeVenueName, book: F.Book, limits: Array<RestLimit>, log: Array<RestLog>) =>
  (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake")
    const limit = limits[0]
    let answer: F.RestAnswer | undefined
    if (limit !== undefined) {
      if ((limit.times ?? 1) <= 1) limits.shift()
      else limits[0] = { ...limit, times: (limit.times ?? 1) - 1 }
      const headers: Record<string, string> =
        limit.retryAfter === undefined ? {} : { "retry-after": String(limit.retryAfter) }
      const body =
        venue === "kraken" ? { error: ["EAPI:Rate limit exceeded"] } : { code: -1003, msg: "Too many requests" }
      answer = { status: limit.status, headers, body }
    } else {
      answer =
        venue === "binance"
          ? F.binanceRest(url, book)
          : venue === "coinbase"
            ? F.coinbaseRest(url, book)
            : F.krakenRest(url, book)
    }
    answer ??= { status: 404, body: { message: "not found" } }
    log.push({ url: `${url.pathname}${url.search}`, status: answer.status })
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
    res.end(JSON.stringify(answer.body))
  }
