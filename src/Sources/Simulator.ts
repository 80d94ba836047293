import { Clock, Duration, Effect, Random, Stream } from "effect"
import { Tick } from "../Domain/Tick.js"
import { type CoinInfo, coinInfo } from "./Coins.js"

export interface SimulatorOptions {
  readonly coins: ReadonlyArray<string>
  /** Ticks per coin per second. */
  readonly rate: number
  /** The same seed gives the same price paths. */
  readonly seed: number
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

/**
 * Geometric Brownian motion per coin, one tick per coin every 1/rate seconds, event time = now.
 * Stablecoins stay pinned near 1 (their volatility is tiny and they revert to the peg).
 * Each tick carries a random trade size, so candle volume and VWAP are meaningful.
 */
export const stream = (options: SimulatorOptions): Stream.Stream<Tick> =>
  Stream.unwrap(
    Effect.sync(() => {
      const rng = Random.make(options.seed)
      const walks: Array<Walk> = options.coins.map((id) => {
        const info = coinInfo(id)
        return { info, price: info.price, lastEventTime: 0 }
      })
      const period = Duration.millis(Math.max(1, Math.round(1000 / options.rate)))
      const dt = Duration.toMillis(period) / yearMillis

      const step = (walk: Walk, now: number) =>
        Effect.gen(function* () {
          const z = yield* gaussian(rng)
          const { info } = walk
          const sigma = info.volatility
          const pegged = info.volatility < 0.05
          const drift = pegged ? -50 * Math.log(walk.price / info.price) : 0
          walk.price = walk.price * Math.exp((drift - (sigma * sigma) / 2) * dt + sigma * Math.sqrt(dt) * z)
          // Event times strictly increase per coin: (symbol, source, event time) identifies a tick.
          walk.lastEventTime = Math.max(now, walk.lastEventTime + 1)
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
            ingestTime: now
          })
        })

      return Stream.tick(period).pipe(
        Stream.mapEffect(() =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.forEach(walks, (w) => step(w, now)))
        ),
        Stream.flattenIterables
      )
    })
  )
