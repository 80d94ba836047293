/**
 * Trade-id continuity of one market, pure: the last id delivered (and its time), and what the next trade is to it.
 *
 * Every venue we read numbers a market's trades consecutively (Binance `a`, Coinbase and Kraken `trade_id`), so a
 * trade is exactly one of: the next one, one already delivered (a reconnect's overlap, a resent frame), or a jump
 * past ids that are missing. The first trade of a run, with nothing known before it, is accepted as it is.
 *
 * Frames a little out of order (id 5 before 4 on one connection) are read as a jump then filled: 5 makes 4 missing,
 * the fill fetches 4 from REST, and the late 4 is then a duplicate. No reorder buffer: that would hold back every
 * real jump for its window, while the venues send in order over one TCP stream nearly always; the fill keeps the
 * output in id order either way, at the cost of one REST call in the rare case.
 */

/** Where a market's stream left off: its last delivered trade id and that trade's time (epoch ms). */
export interface LastId {
  readonly id: number
  readonly time: number
}

export type Continuity =
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Known"; readonly last: LastId; readonly duplicates: number }

export const unknown: Continuity = { _tag: "Unknown" }

export const known = (last: LastId): Continuity => ({ _tag: "Known", last, duplicates: 0 })

/** What a trade is to the ids delivered so far. */
export type Verdict =
  /** The first trade of a run, or id = last + 1: deliver it. */
  | { readonly _tag: "Next" }
  /** id ≤ last: already delivered, drop it. */
  | { readonly _tag: "Duplicate" }
  /** id > last + 1: ids `fromId..toId` are missing before it; `after` is the trade before them. */
  | { readonly _tag: "Jump"; readonly fromId: number; readonly toId: number; readonly after: LastId }

/** The verdict on a trade with this id, without changing anything. */
export const classify = (state: Continuity, id: number): Verdict => {
  if (state._tag === "Unknown" || id === state.last.id + 1) return { _tag: "Next" }
  if (id <= state.last.id) return { _tag: "Duplicate" }
  return { _tag: "Jump", fromId: state.last.id + 1, toId: id - 1, after: state.last }
}

/** The state once a trade (or a gap ending at `id`) has been delivered. */
export const deliver = (state: Continuity, last: LastId): Continuity =>
  state._tag === "Known" && last.id <= state.last.id
    ? state
    : { _tag: "Known", last, duplicates: state._tag === "Known" ? state.duplicates : 0 }

/** The state after a duplicate was dropped: only the count changes. */
export const dropped = (state: Continuity): Continuity =>
  state._tag === "Known" ? { ...state, duplicates: state.duplicates + 1 } : state

/** The last id delivered, if any. */
export const lastOf = (state: Continuity): LastId | undefined => (state._tag === "Known" ? state.last : undefined)
