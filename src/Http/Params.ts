import { Schema } from "effect"
import { EpochMillis } from "../Domain/Tick.js"

// Query parameters shared by the endpoints.

/** Epoch milliseconds, or an ISO 8601 date-time. */
export const TimeParam = Schema.Union(
  Schema.NumberFromString.pipe(Schema.compose(EpochMillis)),
  Schema.transform(Schema.DateFromString.pipe(Schema.validDate()), EpochMillis, {
    strict: true,
    decode: (d) => d.getTime(),
    encode: (ms) => new Date(ms)
  })
).annotations({ description: "epoch milliseconds or an ISO 8601 date-time" })

export const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 5000))

/** A yes/no query parameter: exactly "true" or "false". */
export const Flag = Schema.BooleanFromString.annotations({ description: '"true" or "false"' })
