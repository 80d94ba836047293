import { Clock, Duration, Effect, Random, Stream } from "effect"
import { Tick } from "../Domain/Tick.js"
import * as HistoryProgress from "../Producer/HistoryProgress.js"
import { type CoinInfo, coinInfo } from "./Coins.js"

export interface SimulatorOptions {
  readonly coins: ReadonlyArray<string>
  /** Ticks per coin per second. */
  readonly rate: number
  /** The same seed gives the same price paths. */
  readonly seed: number
  /**
   * Published first, as fast as it is taken: one tick per coin every `spacingMs` over the `spanMs` before the start,
   * oldest first; the live ticks then go on from the prices it ended at.
   */
  readonly history?: { readonly spanMs: number; readonly spacingMs: number }
}

const yearMillis = 365.25 * 24 * 3600 * 1000

interface Walk {
  readonly info: CoinInfo
  price: number
  lastEventTime: number
}

/** Standard normal draw (Box–Muller). */
const gaussian = (rng: Random.Random) =>
  Effect.gen(function* () {
    const u = Math.max(yield* rng.next, Number.MIN_VALUE)
    const v = yield* rng.next
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  })

/** One GBM step of `dtMillis` for a coin, as a tick at `eventTime` (kept strictly increasing per coin). */
const step = (rng: Random.Random, walk: Walk, eventTime: number, ingestTime: number, dtMillis: number) =>
  Effect.gen(function* () {
    const dt = dtMillis / yearMillis
    const z = yield* gaussian(rng)
    const { info } = walk
    const sigma = info.volatility
    const pegged = info.volatility < 0.05
    const drift = pegged ? -50 * Math.log(walk.price / info.price) : 0
    walk.price = walk.price * Math.exp((drift - (sigma * sigma) / 2) * dt + sigma * Math.sqrt(dt) * z)
    // Event times strictly increase per coin: (symbol, source, event time) identifies a tick.
    walk.lastEventTime = Math.max(eventTime, walk.lastEventTime + 1)
    const notional = 200 * Math.exp(2.5 * (yield* rng.next)) // ~$200 – $2,400
    return new Tick({
      symbol: info.symbol,
      coinId: info.id,
      price: walk.price,
      volume: notional / walk.price,
      volume24h: info.volume24h,
      marketCap: info.marketCap * (walk.price / info.price),
      change24h: (walk.price / info.price - 1) * 100,
      eventTime: walk.lastEventTime,
      source: "simulator",
      ingestTime
    })
  })

/**
 * Geometric Brownian motion per coin, one tick per coin every 1/rate seconds, event time = now; first, when asked,
 * the history before the start (`history`).
 * Stablecoins stay pinned near 1 (their volatility is tiny and they revert to the peg).
 * Each tick carries a random trade size, so candle volume and VWAP are meaningful.
 */
export const stream = (options: SimulatorOptions): Stream.Stream<Tick> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const rng = Random.make(options.seed)
      const walks: Array<Walk> = options.coins.map((id) => {
        const info = coinInfo(id)
        return { info, price: info.price, lastEventTime: 0 }
      })
      const period = Duration.millis(Math.max(1, Math.round(1000 / options.rate)))
      const h = options.history
      const steps = h === undefined ? 0 : Math.floor(h.spanMs / h.spacingMs)
      const history = Stream.fromIterable(Array.from({ length: steps }, (_, k) => k)).pipe(
        Stream.mapEffect((k) =>
          Effect.forEach(walks, (w) =>
            step(rng, w, start - (h?.spanMs ?? 0) + k * (h?.spacingMs ?? 0), start, h?.spacingMs ?? 0)
          )
        ),
        // counted as handed to the producer (its buffer is bounded, so the bus is at most that far behind)
        Stream.tap((ticks) => HistoryProgress.advance(ticks.length))
      )
      if (steps > 0) yield* HistoryProgress.start(steps * walks.length, "the simulator's past day")
      const live = Stream.tick(period).pipe(
        Stream.mapEffect(() =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.forEach(walks, (w) => step(rng, w, now, now, Duration.toMillis(period)))
          )
        )
      )
      return Stream.concat(history, live).pipe(Stream.flattenIterables)
    })
  )
