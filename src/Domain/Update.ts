import { Schema } from "effect"
import { Candle } from "./Candle.js"
import { Tick } from "./Tick.js"

/** What the processor announces on the live channel (Redis PUBLISH crypto:updates) and SSE relays. */
export const Update = Schema.Union(
  Schema.TaggedStruct("tick", { tick: Tick }),
  Schema.TaggedStruct("candle", { candle: Candle })
)
export type Update = typeof Update.Type

export const UpdateJson = Schema.parseJson(Update)
