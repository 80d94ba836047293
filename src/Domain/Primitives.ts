import { Schema } from "effect"

/** The smallest shared pieces of the domain, imported by Tick, Market and Trade (which import each other). */

// The one place a symbol's form is written: 1 to 15 upper-case letters and digits.
const symbolForm = "[A-Z0-9]{1,15}"
export const symbolPattern = new RegExp(`^${symbolForm}$`)
/** Up to `max` comma-separated symbols in any case, e.g. `btc,ETH` (a query parameter). */
export const symbolListPattern = (max: number) => new RegExp(`^${symbolForm}(,${symbolForm}){0,${max - 1}}$`, "i")

/** Epoch milliseconds, UTC. */
export const EpochMillis = Schema.Number.pipe(
  Schema.int(),
  Schema.between(0, 8_640_000_000_000_000),
  Schema.annotations({ identifier: "EpochMillis", description: "Milliseconds since the Unix epoch (UTC)" })
)

export const isEpochMillis = (u: unknown): u is number =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= 0 && u <= 8_640_000_000_000_000
