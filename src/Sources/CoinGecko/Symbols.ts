import { Effect, Either, Option } from "effect"
import { coinInfo } from "../Coins.js"
import type { Client } from "./Client.js"

/** A ticker symbol as the Tick schema wants it (BTC); None when nothing usable is left. */
export const toSymbol = (raw: string): Option.Option<string> => {
  const s = raw
    .replace(/[^a-z0-9]/gi, "")
    .toUpperCase()
    .slice(0, 15)
  return s.length > 0 ? Option.some(s) : Option.none()
}

/** id → ticker symbol, from /coins/markets once, else the built-in table (src/Sources/Coins.ts). */
export const resolveSymbols = Effect.fn("CoinGecko.resolveSymbols")(function* (
  client: Client,
  coins: ReadonlyArray<string>
) {
  const symbols = new Map<string, string>()
  const listed = yield* Effect.either(client.markets(coins))
  if (Either.isLeft(listed)) {
    yield* Effect.logWarning(`coingecko: symbols not fetched (${listed.left.message}); using the built-in table`)
  } else {
    for (const row of listed.right) {
      if (!coins.includes(row.id)) continue
      Option.map(toSymbol(row.symbol), (s) => symbols.set(row.id, s))
    }
    const unlisted = coins.filter((id) => !symbols.has(id))
    if (unlisted.length > 0) {
      yield* Effect.logWarning(
        `coingecko: /coins/markets does not list ${unlisted.join(", ")}; using the built-in symbols for them`
      )
    }
  }
  for (const id of coins) if (!symbols.has(id)) symbols.set(id, coinInfo(id).symbol)
  const byId = new Map<string, Array<string>>()
  for (const [id, s] of symbols) byId.set(s, [...(byId.get(s) ?? []), id])
  for (const [s, ids] of byId) {
    if (ids.length > 1)
      yield* Effect.logWarning(
        `coingecko: ${ids.join(" and ")} share the symbol ${s}: their ticks share one key and one set of candles`
      )
  }
  yield* Effect.logInfo(`coingecko: symbols ${[...symbols].map(([id, s]) => `${id}=${s}`).join(", ")}`)
  return symbols
})
