import { readFileSync } from "node:fs"
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse
} from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Fiber,
  FastCheck as fc,
  Logger,
  Metric,
  Option,
  Redacted,
  Schema,
  Stream,
  TestClock
} from "effect"
import { Bus } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"
import { SourceConfig } from "../../src/Config.js"
import { Tick, TickJson } from "../../src/Domain/Tick.js"
import * as Producer from "../../src/Producer.js"
import * as CoinGecko from "../../src/Sources/CoinGecko.js"
import { coinInfo } from "../../src/Sources/Coins.js"
import * as Sources from "../../src/Sources/Select.js"
import { isTick } from "../../src/Sources/Source.js"

// == fixtures (derived from recorded market_chart answers: see test/fixtures/README.md)

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/coingecko/${name}`, import.meta.url), "utf8"))
const simplePrice = fixture("simple-price.json") as Record<string, Record<string, number | null>>
const markets = fixture("coins-markets.json") as Array<Record<string, unknown>>
const coins = ["bitcoin", "ethereum", "tether"]
const key = "CG-test-key-0123456789"

/** A copy of the recorded answer with some coins changed (null values kept, `undefined` removes a field or coin). */
const answer = (changes: Record<string, Record<string, number | null | undefined> | undefined> = {}) => {
  const out: Record<string, Record<string, number | null>> = {}
  for (const [id, quote] of Object.entries(simplePrice)) out[id] = { ...quote }
  for (const [id, change] of Object.entries(changes)) {
    if (change === undefined) {
      delete out[id]
      continue
    }
    const quote: Record<string, number | null> = { ...(out[id] ?? {}) }
    for (const [field, value] of Object.entries(change)) {
      if (value === undefined) delete quote[field]
      else quote[field] = value
    }
    out[id] = quote
  }
  return out
}

// == a fake CoinGecko on loopback

type Reply = (req: IncomingMessage, res: ServerResponse) => void

const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
    res.end(JSON.stringify(body))
  }
const text =
  (status: number, body: string, contentType = "text/html; charset=UTF-8"): Reply =>
  (_req, res) => {
    res.writeHead(status, { "content-type": contentType, server: "cloudflare" })
    res.end(body)
  }
/** Never answers (the client's timeout has to end it). */
const hang: Reply = () => {}

const cloudflarePage = `<!DOCTYPE html>
<html><head><title>Access denied | api.coingecko.com used Cloudflare to restrict access</title>
<style>body{font-family:sans-serif}</style></head>
<body><div class="cf-error"><h1>Error 1020</h1><p>Access denied</p>
<p>The owner of this website (api.coingecko.com) has banned your access based on your browser's signature.</p></div></body></html>`

const rateLimitBody = {
  status: {
    error_code: 429,
    error_message:
      "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to " +
      "our API plans for higher rate limits."
  }
}

interface Recorded {
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
}

interface Fake {
  /** Base URL, as COINGECKO_BASE_URL. */
  readonly url: string
  readonly requests: Array<Recorded>
  /** Replies for the next requests to `endpoint` (e.g. "simple/price"), in order; then the recorded answers. */
  readonly script: (endpoint: string, ...replies: ReadonlyArray<Reply>) => void
  readonly count: (endpoint: string) => number
}

const fakeCoinGecko = Effect.acquireRelease(
  Effect.async<{ fake: Fake; server: Server }>((resume) => {
    const requests: Array<Recorded> = []
    const scripts = new Map<string, Array<Reply>>()
    const defaults: Record<string, Reply> = {
      "/api/v3/ping": json({ gecko_says: "(V3) To the Moon!" }),
      "/api/v3/simple/price": json(simplePrice),
      "/api/v3/coins/markets": json(markets)
    }
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers })
      const reply = scripts.get(url.pathname)?.shift() ?? defaults[url.pathname] ?? json({ error: "Not Found" }, 404)
      reply(req, res)
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(
        Effect.succeed({
          server,
          fake: {
            url: `http://127.0.0.1:${port}/api/v3`,
            requests,
            script: (endpoint, ...replies) =>
              scripts.set(`/api/v3/${endpoint}`, [...(scripts.get(`/api/v3/${endpoint}`) ?? []), ...replies]),
            count: (endpoint) => requests.filter((r) => r.path === `/api/v3/${endpoint}`).length
          }
        })
      )
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ fake }) => fake))

// == helpers

const captureLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.add(logger), text: () => lines.map((l) => `${l.level} ${l.message}`).join("\n") }
}

const options = (fake: Fake, overrides: Partial<CoinGecko.Options> = {}): CoinGecko.Options => ({
  baseUrl: fake.url,
  plan: "demo",
  apiKey: Option.some(Redacted.make(key)),
  coins,
  pollInterval: "20 millis",
  timeout: "5 seconds",
  backoff: { base: "10 millis", max: "40 millis" },
  ...overrides
})

/** The default logger is left out so passing tests stay quiet; captureLogs() sees everything. */
const quiet = Logger.remove(Logger.defaultLogger)

const take = (o: CoinGecko.Options, n: number) =>
  CoinGecko.stream(o).pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toArray), Effect.provide(quiet))

const count = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)
const counters = Effect.all({
  rateLimited: count(CoinGecko.metrics.rateLimited),
  unchanged: count(CoinGecko.metrics.unchanged),
  unavailable: count(CoinGecko.errorsCounter("unavailable")),
  timeout: count(CoinGecko.errorsCounter("timeout")),
  badResponse: count(CoinGecko.errorsCounter("bad-response")),
  rateLimitedErrors: count(CoinGecko.errorsCounter("rate-limited")),
  missingCoin: count(CoinGecko.errorsCounter("missing-coin")),
  badQuote: count(CoinGecko.errorsCounter("bad-quote")),
  simplePriceRequests: count(CoinGecko.requestsCounter("simple/price"))
})
const delta = <A extends Record<string, number>>(before: A, after: A) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]!])) as A

/** Waits in real time (the HTTP server is real) until `probe` is true; a bound, not a timing assertion. */
// Bounded by real time, not by a count of polls: on a loaded machine a 5 ms timer can take far longer.
const eventually = (probe: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (yield* probe) return
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })
const realPause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
const sleepPendingAt = (instant: number) =>
  Effect.map(
    TestClock.sleeps(),
    Chunk.some((s) => s === instant)
  )

// == tests

describe("CoinGecko source against a fake CoinGecko", () => {
  it.scopedLive("asks /simple/price for all coins in one call and turns the recorded answer into ticks", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const logs = captureLogs()
      const ticks = yield* take(options(fake), 3).pipe(Effect.provide(logs.layer))

      expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "USDT"])
      for (const tick of ticks) {
        const quote = simplePrice[tick.coinId]!
        expect(Schema.is(Tick)(tick)).toBe(true)
        expect(tick).toMatchObject({
          price: quote["usd"],
          marketCap: quote["usd_market_cap"],
          volume24h: quote["usd_24h_vol"],
          change24h: quote["usd_24h_change"],
          eventTime: quote["last_updated_at"]! * 1000,
          source: "coingecko"
        })
        expect(tick.volume).toBeUndefined()
        expect(tick.ingestTime).toBeGreaterThan(0)
      }

      const prices = fake.requests.filter((r) => r.path === "/api/v3/simple/price")
      expect(prices).toHaveLength(1)
      expect(Object.fromEntries(prices[0]!.query)).toEqual({
        ids: "bitcoin,ethereum,tether",
        vs_currencies: "usd",
        include_market_cap: "true",
        include_24hr_vol: "true",
        include_24hr_change: "true",
        include_last_updated_at: "true",
        precision: "full"
      })
      const listing = fake.requests.filter((r) => r.path === "/api/v3/coins/markets")
      expect(listing).toHaveLength(1)
      expect(listing[0]!.query.get("ids")).toBe("bitcoin,ethereum,tether")
      expect(listing[0]!.query.get("vs_currency")).toBe("usd")
      for (const r of fake.requests) {
        expect(r.headers["x-cg-demo-api-key"]).toBe(key)
        expect(r.headers["x-cg-pro-api-key"]).toBeUndefined()
        expect(r.headers["user-agent"]).toMatch(/^crypto-price-pipeline\//)
      }
      expect(logs.text()).not.toContain(key)
    })
  )

  it.scopedLive("the pro plan sends x-cg-pro-api-key; keyless sends no key", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      yield* take(options(fake, { plan: "pro" }), 1)
      expect(
        fake.requests.every(
          (r) => r.headers["x-cg-pro-api-key"] === key && r.headers["x-cg-demo-api-key"] === undefined
        )
      ).toBe(true)
      const before = fake.requests.length
      yield* take(options(fake, { apiKey: Option.none() }), 1)
      const keyless = fake.requests.slice(before)
      expect(keyless.length).toBeGreaterThan(0)
      expect(
        keyless.every(
          (r) => r.headers["x-cg-pro-api-key"] === undefined && r.headers["x-cg-demo-api-key"] === undefined
        )
      ).toBe(true)
    })
  )

  it.scopedLive("publishes a coin again only when its last_updated_at advances", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const newer = simplePrice["bitcoin"]!["last_updated_at"]! + 60
      fake.script(
        "simple/price",
        json(answer()),
        json(answer()),
        json(answer()),
        json(answer({ bitcoin: { usd: 34700.25, last_updated_at: newer } }))
      )
      const before = yield* counters
      const ticks = yield* take(options(fake), 4)
      const after = yield* counters

      expect(ticks.map((t) => [t.symbol, t.eventTime])).toEqual([
        ["BTC", simplePrice["bitcoin"]!["last_updated_at"]! * 1000],
        ["ETH", simplePrice["ethereum"]!["last_updated_at"]! * 1000],
        ["USDT", simplePrice["tether"]!["last_updated_at"]! * 1000],
        ["BTC", newer * 1000]
      ])
      expect(ticks[3]!.price).toBe(34700.25)
      expect(fake.count("simple/price")).toBe(4)
      // polls 2 and 3 repeat all three coins, poll 4 repeats ethereum and tether
      expect(delta(before, after).unchanged).toBe(8)
    })
  )

  it.scopedLive(
    "leaves null fields out; reports a coin without a price and a missing coin, and never invents them",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        fake.script(
          "simple/price",
          json(
            answer({
              bitcoin: { usd_market_cap: null, usd_24h_change: null, usd_24h_vol: undefined },
              ethereum: { usd: null },
              tether: undefined
            })
          ),
          json(answer())
        )
        const logs = captureLogs()
        const before = yield* counters
        const ticks = yield* take(options(fake), 3).pipe(Effect.provide(logs.layer))
        const after = yield* counters

        expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "USDT"])
        expect(ticks[0]!.price).toBe(simplePrice["bitcoin"]!["usd"])
        expect(ticks[0]!.marketCap).toBeUndefined()
        expect(ticks[0]!.change24h).toBeUndefined()
        expect(ticks[0]!.volume24h).toBeUndefined()
        expect(fake.count("simple/price")).toBe(2)
        const warning = logs.lines.find(
          (l) => l.level === "WARN" && l.message.includes("not published from this answer")
        )
        expect(warning?.message).toContain("ethereum: usd is null")
        expect(warning?.message).toContain("tether: missing from the answer")
        expect(warning?.message).not.toContain("bitcoin")
        expect(logs.text()).toMatch(/INFO coingecko: back in the answer: ethereum, tether/)
        expect(delta(before, after)).toMatchObject({ missingCoin: 1, badQuote: 1 })
      })
  )

  it.scopedLive(
    "retries a 429 without Retry-After, a 500, an HTML page, a timeout and a CDN 503 with backoff; counts and logs each",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        fake.script(
          "simple/price",
          json(rateLimitBody, 429),
          text(500, "Internal Server Error", "text/plain"),
          text(200, cloudflarePage),
          hang,
          text(
            503,
            "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 " +
              "Service Temporarily Unavailable</h1></center></body></html>"
          )
        )
        const logs = captureLogs()
        const before = yield* counters
        // the hanging answer costs one real timeout; 3 s so that no other loopback answer on a loaded machine hits it
        const ticks = yield* take(options(fake, { timeout: "3 seconds" }), 3).pipe(Effect.provide(logs.layer))
        const after = yield* counters

        expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "USDT"])
        expect(fake.count("simple/price")).toBe(6)
        expect(delta(before, after)).toMatchObject({
          rateLimited: 1,
          rateLimitedErrors: 1,
          unavailable: 2,
          badResponse: 1,
          timeout: 1,
          simplePriceRequests: 6
        })
        const warnings = logs.lines.filter((l) => l.level === "WARN").map((l) => l.message)
        expect(
          warnings.some(
            (m) => m.includes("HTTP 429 rate limited (no Retry-After)") && m.includes("exceeded the Rate Limit")
          )
        ).toBe(true)
        expect(
          warnings.some(
            (m) =>
              m.includes("HTTP 200 but the body is not JSON") &&
              m.includes("Access denied | api.coingecko.com used Cloudflare")
          )
        ).toBe(true)
        expect(warnings.some((m) => m.includes("no complete answer within 3s"))).toBe(true)
        expect(warnings.some((m) => m.includes("HTTP 503") && m.includes("503 Service Temporarily Unavailable"))).toBe(
          true
        )
        expect(warnings.filter((m) => m.includes("retrying in"))).toHaveLength(5)
        expect(logs.text()).toContain("answering again after 5 failed calls")
      })
  )

  it.scopedLive("gives up with reason unauthorized on a refused key (and never logs the key)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      fake.script("simple/price", json({ status: { error_code: 10002, error_message: "API Key Missing" } }, 401))
      const logs = captureLogs()
      const error = yield* take(options(fake), 1).pipe(Effect.flip, Effect.provide(logs.layer))
      expect(error._tag).toBe("SourceError")
      expect(error.source).toBe("coingecko")
      expect(error.reason).toBe("unauthorized")
      expect(error.message).toContain("API Key Missing")
      expect(fake.count("simple/price")).toBe(1)
      expect(logs.text()).not.toContain(key)
      expect(JSON.stringify(error)).not.toContain(key)
    })
  )

  it.scopedLive("gives up with reason rejected on a 404 (a wrong base URL)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const error = yield* take(options(fake, { baseUrl: `${fake.url}/v9` }), 1).pipe(Effect.flip)
      expect(error.reason).toBe("rejected")
      expect(error.message).toContain("HTTP 404")
    })
  )

  it.scopedLive("uses the built-in symbols when /coins/markets fails", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      fake.script("coins/markets", text(500, "oops", "text/plain"))
      const logs = captureLogs()
      const ticks = yield* take(options(fake), 3).pipe(Effect.provide(logs.layer))
      expect(ticks.map((t) => t.symbol)).toEqual(["BTC", "ETH", "USDT"])
      expect(logs.text()).toMatch(/WARN coingecko: symbols not fetched \(\/coins\/markets: HTTP 500/)
    })
  )

  it.scopedLive("takes a coin's symbol from /coins/markets (solana → SOL, not the fallback SOLANA)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      expect(coinInfo("solana").symbol).toBe("SOLANA")
      fake.script(
        "coins/markets",
        json([...markets, { id: "solana", symbol: "sol", name: "Solana", current_price: 31.2, roi: null }])
      )
      fake.script(
        "simple/price",
        json({
          ...simplePrice,
          solana: {
            usd: 31.2,
            usd_market_cap: null,
            usd_24h_vol: 5.1e8,
            usd_24h_change: null,
            last_updated_at: 1698254190
          }
        })
      )
      const ticks = yield* take(options(fake, { coins: ["bitcoin", "solana"] }), 2)
      expect(ticks.map((t) => [t.coinId, t.symbol])).toEqual([
        ["bitcoin", "BTC"],
        ["solana", "SOL"]
      ])
    })
  )

  it.scopedLive("logs the monthly call volume the interval implies, and warns above the demo budget", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const logs = captureLogs()
      // the first poll is immediate, so a long interval costs nothing here
      yield* take(options(fake, { pollInterval: "30 seconds" }), 3).pipe(Effect.provide(logs.layer))
      const volume = logs.lines.find((l) => l.message.includes("calls/month"))
      expect(volume?.level).toBe("WARN")
      expect(volume?.message).toContain("every 30s for 3 coins = 86,400 calls/month")
      expect(volume?.message).toContain("10,000 calls/month budget")
      expect(volume?.message).toContain("about 3.5 days")
      expect(volume?.message).toContain("POLL_INTERVAL=4m 20s or slower")
      expect(CoinGecko.monthlyCalls("30 seconds")).toBe(86_400)

      const quiet = captureLogs()
      yield* take(options(fake, { pollInterval: "5 minutes" }), 3).pipe(Effect.provide(quiet.layer))
      const line = quiet.lines.find((l) => l.message.includes("calls/month"))
      expect(line?.level).toBe("INFO")
      expect(line?.message).toContain("= 8,640 calls/month")
    })
  )
})

describe("CoinGecko retry timing (TestClock)", () => {
  it.scoped("honours Retry-After in seconds: no request before it has passed", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      fake.script("simple/price", json(rateLimitBody, 429, { "retry-after": "120" }))
      const fiber = yield* Effect.fork(take(options(fake, { pollInterval: "30 seconds", timeout: "10 seconds" }), 3))
      yield* eventually(sleepPendingAt(120_000), "the wait for Retry-After")
      expect(fake.count("simple/price")).toBe(1)
      yield* TestClock.adjust("119999 millis")
      yield* realPause(50)
      expect(fake.count("simple/price")).toBe(1)
      yield* TestClock.adjust("1 millis")
      const ticks = yield* Fiber.join(fiber)
      expect(ticks).toHaveLength(3)
      expect(fake.count("simple/price")).toBe(2)
    })
  )

  it.scoped("honours Retry-After as an HTTP date", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      // TestClock starts at the epoch, so this date is 90 s away
      fake.script("simple/price", json(rateLimitBody, 429, { "retry-after": new Date(90_000).toUTCString() }))
      const fiber = yield* Effect.fork(take(options(fake, { pollInterval: "30 seconds", timeout: "10 seconds" }), 3))
      yield* eventually(sleepPendingAt(90_000), "the wait for Retry-After")
      yield* TestClock.adjust("89 seconds")
      yield* realPause(50)
      expect(fake.count("simple/price")).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toHaveLength(3)
    })
  )

  it.scoped("backs off 1 s, 2 s, 4 s (each ±20 %) after failures in a row, then polls at the interval again", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const later = (id: string) => ({ last_updated_at: simplePrice[id]!["last_updated_at"]! + 30 })
      fake.script(
        "simple/price",
        text(500, "a"),
        text(502, "b"),
        text(504, "c"),
        json(answer()),
        json(answer({ bitcoin: later("bitcoin"), ethereum: later("ethereum"), tether: later("tether") }))
      )
      const o = options(fake, {
        pollInterval: "30 seconds",
        timeout: "1 hour",
        backoff: { base: "1 second", max: "5 minutes" }
      })
      const fiber = yield* Effect.fork(take(o, 6))
      /**
       * The wait the stream registered after `after` that is not a request timeout. Those are an hour after their
       * request, and a finished request's timeout can still be listed for a moment (its interruption lands later on a
       * loaded machine), so anything 10 minutes or more ahead is not a backoff (whose cap here is 5 minutes).
       */
      const nextWait = (after: number) =>
        Effect.gen(function* () {
          let found: number | undefined
          yield* eventually(
            Effect.map(TestClock.sleeps(), (sleeps) => {
              found = Chunk.findFirst(sleeps, (s) => s > after && s < after + 600_000).pipe(Option.getOrUndefined)
              return found !== undefined
            }),
            "the next backoff"
          )
          return found!
        })
      let now = 0
      for (const [i, nominal] of [1000, 2000, 4000].entries()) {
        const wake = yield* nextWait(now)
        expect(wake - now).toBeGreaterThanOrEqual(nominal * 0.8)
        expect(wake - now).toBeLessThanOrEqual(nominal * 1.2)
        expect(fake.count("simple/price")).toBe(i + 1)
        yield* TestClock.adjust(wake - now)
        now = wake
      }
      // the fourth call answers; the next poll waits the regular 30 s
      yield* eventually(sleepPendingAt(now + 30_000), "the regular poll")
      expect(fake.count("simple/price")).toBe(4)
      yield* TestClock.adjust("30 seconds")
      const ticks = yield* Fiber.join(fiber)
      expect(ticks).toHaveLength(6)
      expect(fake.count("simple/price")).toBe(5)
    })
  )
})

describe("CoinGecko pure parts", () => {
  it("parseRetryAfter reads seconds and HTTP dates", () => {
    const now = Date.UTC(2025, 10, 1, 12, 0, 0)
    expect(CoinGecko.parseRetryAfter("119", now)).toEqual(Option.some(Duration.seconds(119)))
    expect(CoinGecko.parseRetryAfter(" 0 ", now)).toEqual(Option.some(Duration.zero))
    expect(CoinGecko.parseRetryAfter(new Date(now + 45_000).toUTCString(), now)).toEqual(
      Option.some(Duration.seconds(45))
    )
    expect(CoinGecko.parseRetryAfter(new Date(now - 45_000).toUTCString(), now)).toEqual(Option.some(Duration.zero))
    expect(CoinGecko.parseRetryAfter("999999", now)).toEqual(Option.some(Duration.hours(1)))
    expect(CoinGecko.parseRetryAfter(undefined, now)).toEqual(Option.none())
    expect(CoinGecko.parseRetryAfter("soon", now)).toEqual(Option.none())
    expect(CoinGecko.parseRetryAfter("-5", now)).toEqual(Option.none())
  })

  it("backoff doubles from the base, is capped, and jitters within 80–120 %", () => {
    const backoff = { base: "1 second", max: "5 minutes" } as const
    expect(Duration.toMillis(CoinGecko.backoffDelay(1, backoff, 0.5))).toBe(1000)
    expect(Duration.toMillis(CoinGecko.backoffDelay(4, backoff, 0.5))).toBe(8000)
    expect(Duration.toMillis(CoinGecko.backoffDelay(4, backoff, 0))).toBe(6400)
    expect(Duration.toMillis(CoinGecko.backoffDelay(4, backoff, 0.999999))).toBe(9600)
    expect(Duration.toMillis(CoinGecko.backoffDelay(30, backoff, 0.5))).toBe(300_000)
    const limited = new CoinGecko.CoinGeckoError({
      reason: "rate-limited",
      endpoint: "simple/price",
      message: "429",
      retryAfter: Duration.seconds(119)
    })
    expect(Duration.toMillis(CoinGecko.retryDelay(limited, 1, backoff, 0.5))).toBe(119_000)
    expect(Duration.toMillis(CoinGecko.retryDelay(limited, 9, backoff, 0.5))).toBe(256_000)
  })

  it("interpret: HTML instead of JSON is a bad-response with a short excerpt; a key error code on 403 is unauthorized", () => {
    const page = CoinGecko.interpret(
      "simple/price",
      { status: 200, headers: { "content-type": "text/html" }, body: cloudflarePage },
      0
    )
    expect(Either.isLeft(page)).toBe(true)
    const error = Either.flip(page).pipe(Either.getOrThrow)
    expect(error.reason).toBe("bad-response")
    expect(error.excerpt).toMatch(
      /^Access denied \| api\.coingecko\.com used Cloudflare to restrict access \| Error 1020 Access denied/
    )
    expect(error.excerpt!.length).toBeLessThanOrEqual(160)
    const forbidden = (body: string) =>
      Either.flip(CoinGecko.interpret("simple/price", { status: 403, headers: {}, body }, 0)).pipe(Either.getOrThrow)
    expect(forbidden(JSON.stringify({ status: { error_code: 10011, error_message: "wrong root" } })).reason).toBe(
      "unauthorized"
    )
    expect(forbidden(cloudflarePage).reason).toBe("unavailable")
    expect(forbidden(cloudflarePage).retryable).toBe(true)
  })

  const quote = fc.record(
    {
      usd: fc.oneof(fc.double(), fc.constant(null), fc.integer(), fc.string()),
      usd_market_cap: fc.oneof(fc.double(), fc.constant(null)),
      usd_24h_vol: fc.oneof(fc.double(), fc.constant(null)),
      usd_24h_change: fc.oneof(fc.double(), fc.constant(null)),
      last_updated_at: fc.oneof(fc.integer({ min: 1_500_000_000, max: 1_800_000_000 }), fc.double(), fc.constant(null))
    },
    { requiredKeys: [] }
  )
  const ids = ["bitcoin", "ethereum", "tether", "constructor", "toString"]
  const body = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(
      fc.constantFrom(...ids, "__proto__", "solana"),
      fc.oneof({ weight: 4, arbitrary: quote }, { weight: 1, arbitrary: fc.jsonValue() })
    )
  )

  it.prop(
    "readSnapshot never throws, never invents a coin, and every tick it gives passes the Tick schema",
    [body, fc.integer({ min: 1_500_000_000, max: 1_800_000_000 })],
    ([answerBody, published]) => {
      const result = CoinGecko.readSnapshot(answerBody, {
        coins: ids,
        symbolOf: (id) => coinInfo(id).symbol,
        now: 1_750_000_000_000,
        lastPublished: new Map([["ethereum", published * 1000]])
      })
      if (Either.isLeft(result)) {
        expect(typeof answerBody !== "object" || answerBody === null || Array.isArray(answerBody)).toBe(true)
        return
      }
      const { problems, ticks, unchanged } = result.right
      for (const tick of ticks) {
        expect(Schema.is(Tick)(tick)).toBe(true)
        expect(Object.hasOwn(answerBody as object, tick.coinId)).toBe(true)
        expect(tick.source).toBe("coingecko")
      }
      // each configured coin is accounted for exactly once: a tick, a repeat, or a reported problem
      expect([...ticks.map((t) => t.coinId), ...unchanged, ...problems.keys()].sort()).toEqual([...ids].sort())
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("Sources.fromConfig", () => {
  const run = (source: SourceConfig, n: number) =>
    Sources.fromConfig(source).pipe(
      Effect.flatMap((s) => s.pipe(Stream.filter(isTick), Stream.take(n), Stream.runCollect)),
      Effect.provide(quiet)
    )
  const config = (env: Record<string, string>) =>
    Effect.orDie(Effect.withConfigProvider(SourceConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

  /** A loopback port nobody listens on: connections are refused. */
  const refusedPort = Effect.async<number>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resume(Effect.succeed(port)))
    })
  })

  it.scopedLive("SOURCE=auto falls back to the labelled simulator when CoinGecko refuses connections", () =>
    Effect.gen(function* () {
      const port = yield* refusedPort
      const logs = captureLogs()
      const source = yield* config({
        SOURCE: "auto",
        COINS: "bitcoin,ethereum",
        COINGECKO_BASE_URL: `http://127.0.0.1:${port}/api/v3`,
        SIMULATOR_RATE: "100"
      })
      const ticks = yield* run(source, 4).pipe(Effect.provide(logs.layer))
      expect(Chunk.toArray(ticks).every((t) => t.source === "simulator")).toBe(true)
      expect(logs.text()).toMatch(
        new RegExp(
          String.raw`WARN SOURCE=auto: CoinGecko is not usable at http://127\.0\.0\.1:\d+/api/v3 ` +
            String.raw`\(/ping: transport error: .*ECONNREFUSED.*\); using the simulator`
        )
      )
    })
  )

  it.scopedLive("SOURCE=auto uses CoinGecko when it answers (the ticks say so)", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const source = yield* config({ SOURCE: "auto", COINS: coins.join(","), COINGECKO_BASE_URL: fake.url })
      const ticks = yield* run(source, 3)
      expect(Chunk.toArray(ticks).map((t) => [t.symbol, t.source])).toEqual([
        ["BTC", "coingecko"],
        ["ETH", "coingecko"],
        ["USDT", "coingecko"]
      ])
      expect(fake.count("ping")).toBe(1)
    })
  )

  it.scopedLive(
    "SOURCE=coingecko with COINGECKO_BASE_URL, COINGECKO_PLAN and COINGECKO_API_KEY from the environment",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeCoinGecko
        const source = yield* config({
          SOURCE: "coingecko",
          COINS: "ethereum",
          COINGECKO_BASE_URL: `${fake.url}/`,
          COINGECKO_PLAN: "pro",
          COINGECKO_API_KEY: key
        })
        expect(source.coingecko.baseUrl).toBe(fake.url)
        const ticks = yield* run(source, 1)
        expect(Chunk.toArray(ticks).map((t) => t.symbol)).toEqual(["ETH"])
        expect(fake.requests.every((r) => r.headers["x-cg-pro-api-key"] === key)).toBe(true)
      })
  )

  it.scopedLive("SOURCE=coingecko through the producer: the ticks reach the bus keyed by market", () =>
    Effect.gen(function* () {
      const fake = yield* fakeCoinGecko
      const bus = yield* MemoryBus.make()
      yield* bus.ensureTopic("crypto-prices", 3)
      const env = new Map([
        ["SOURCE", "coingecko"],
        ["COINS", coins.join(",")],
        ["COINGECKO_BASE_URL", fake.url]
      ])
      const producer = yield* Producer.run.pipe(
        Effect.provideService(Bus, bus),
        Effect.withConfigProvider(ConfigProvider.fromMap(env)),
        Effect.provide(quiet),
        Effect.forkScoped
      )
      const records = yield* bus
        .consume({ topic: "crypto-prices", groupId: "test", onAssign: () => Effect.succeed(new Map()) })
        .pipe(
          Stream.flatMap((event) => (event._tag === "Records" ? Stream.fromIterable(event.records) : Stream.empty)),
          Stream.take(3),
          Stream.runCollect,
          Effect.map(Chunk.toArray)
        )
      yield* Fiber.interrupt(producer)
      const ticks = records.map((r) => ({ key: r.key, tick: Schema.decodeSync(TickJson)(r.value) }))
      expect(ticks.map((t) => t.key).sort()).toEqual(["coingecko:BTC-USD", "coingecko:ETH-USD", "coingecko:USDT-USD"])
      expect(ticks.every((t) => t.key === `coingecko:${t.tick.symbol}-USD` && t.tick.source === "coingecko")).toBe(true)
    })
  )

  it.effect(
    "the defaults: public demo root, 10 s timeout, 3 s probe, 10,000 calls a month; pro switches the root",
    () =>
      Effect.gen(function* () {
        const defaults = yield* config({})
        expect(defaults.sources).toEqual([{ _tag: "auto" }])
        expect(defaults.coingecko).toMatchObject({
          plan: "demo",
          baseUrl: "https://api.coingecko.com/api/v3",
          monthlyBudget: 10_000
        })
        expect(Option.isNone(defaults.coingecko.apiKey)).toBe(true)
        expect(Duration.toMillis(defaults.coingecko.timeout)).toBe(10_000)
        expect(Duration.toMillis(defaults.coingecko.probeTimeout)).toBe(3_000)
        const pro = yield* config({ COINGECKO_PLAN: "pro", COINGECKO_API_KEY: key })
        expect(pro.coingecko.baseUrl).toBe("https://pro-api.coingecko.com/api/v3")
        expect(String(pro.coingecko.apiKey)).not.toContain(key)
        const bad = yield* Effect.flip(
          Effect.withConfigProvider(SourceConfig, ConfigProvider.fromMap(new Map([["COINGECKO_PLAN", "gold"]])))
        )
        expect(String(bad)).toContain("expected demo or pro")
      })
  )
})
