import { HttpApiBuilder } from "@effect/platform"
import { Clock, Effect } from "effect"
import { LatestCache } from "../Cache/LatestCache.js"
import { marketOf } from "../Domain/Tick.js"
import { Store } from "../Store/Store.js"
import { Api } from "./Api.js"
import { databaseDown, fromBeforeTo } from "./Errors.js"
import { MarketResolver } from "./Markets.js"
import { marketState } from "./MarketsApi.js"

/** GET /api/markets, /api/markets/:market/gaps and /api/markets/:market/checks. */
export const MarketsLive = HttpApiBuilder.group(Api, "markets", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const cache = yield* LatestCache
    const resolver = yield* MarketResolver
    return handlers
      .handle("markets", () =>
        Effect.gen(function* () {
          const rows = yield* store.markets.pipe(Effect.mapError(databaseDown))
          // The price is a nicety: with the cache down the list still answers, its prices null.
          const latest = yield* cache.getAll.pipe(Effect.orElseSucceed(() => []))
          const prices = new Map(latest.map((t) => [marketOf(t), t.price]))
          const now = yield* Clock.currentTimeMillis
          return {
            markets: rows.map((r) => ({
              market: r.market,
              venue: r.venue,
              base: r.base,
              quote: r.quote,
              kind: r.kind,
              state: marketState(r.lastEventTime, now),
              lastEventTime: r.lastEventTime,
              lastPrice: prices.get(r.market) ?? null
            }))
          }
        })
      )
      .handle("gaps", ({ path, urlParams: q }) =>
        Effect.gen(function* () {
          yield* fromBeforeTo(q)
          const market = yield* resolver.resolve(path.market)
          const gaps = yield* store
            .gaps({ market, from: q.from, to: q.to, limit: q.limit })
            .pipe(Effect.mapError(databaseDown))
          return { market, gaps }
        })
      )
      .handle("checks", ({ path, urlParams: q }) =>
        Effect.gen(function* () {
          yield* fromBeforeTo(q)
          const market = yield* resolver.resolve(path.market)
          const found = yield* store
            .checks({ market, from: q.from, to: q.to, limit: q.limit, result: q.result })
            .pipe(Effect.mapError(databaseDown))
          return { market, ...found }
        })
      )
  })
)
