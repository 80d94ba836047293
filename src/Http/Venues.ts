import { Context, Effect, Option } from "effect"

/**
 * Each venue connection's state as /ready shows it. The venue sources keep it (src/Sources/Status.ts, with the same
 * fields); a process that runs them provides this service, and /ready of one that does not (the API alone) lists none.
 */
export interface VenueConnection {
  readonly venue: string
  readonly state: "connecting" | "open" | "closed"
  /** When the state last changed, epoch ms. */
  readonly since: number
  /** Why it closed, when it is closed. */
  readonly reason?: string
  /** Receipt time of the last trade, epoch ms. */
  readonly lastTradeAt?: number
  readonly markets: number
}

export class VenueConnections extends Context.Tag("app/Http/VenueConnections")<
  VenueConnections,
  { readonly snapshot: Effect.Effect<ReadonlyArray<VenueConnection>> }
>() {}

/** /ready's entry of one connection: up while it is open; the details beside. */
export const dependencyOf = (c: VenueConnection) => ({
  kind: "websocket",
  state: c.state === "open" ? ("up" as const) : ("down" as const),
  ...(c.state === "open" ? {} : { error: c.state === "connecting" ? "connecting" : (c.reason ?? "closed") }),
  since: c.since,
  markets: c.markets,
  ...(c.lastTradeAt === undefined ? {} : { lastTradeAt: c.lastTradeAt })
})

/** `venue:<name>` → its entry, for every connection this process has (none without the service). */
export const venueDependencies = Effect.gen(function* () {
  const service = yield* Effect.serviceOption(VenueConnections)
  const connections = Option.isSome(service) ? yield* service.value.snapshot : []
  return Object.fromEntries(connections.map((c) => [`venue:${c.venue}`, dependencyOf(c)]))
})
