import { Schema } from "effect"
import type { BusRecord } from "../Bus/Bus.js"
import type { Market } from "./Market.js"

/** Why a record could not be used: undecodable, behind the watermark, or too far ahead of its record's timestamp. */
export const DeadLetterReason = Schema.Literal("decode", "late", "future")
export type DeadLetterReason = typeof DeadLetterReason.Type

/** Where the record was read, and its bytes exactly. */
export type DeadRecord = Omit<BusRecord, "timestamp">

/** A record that could not be used, with why; published to `<topic>.dlq`. */
export interface DeadLetter {
  readonly reason: DeadLetterReason
  readonly detail: string
  readonly record: DeadRecord
  /** The record's market, when it decoded (a late or future tick). */
  readonly market?: Market | undefined
}

// Kafka refuses a produce request over its max message size (1 MiB by default): each dead letter stays under
// 512 KiB encoded, and they are sent in batches of at most 768 KiB.
const deadLimit = 256 * 1024
const deadLetterLimit = 512 * 1024
export const deadBatchLimit = 768 * 1024

/** The dead letter as JSON: the reason and where the record was, with its bytes exactly (base64 when not UTF-8 text). */
export const encodeDeadLetter = (d: DeadLetter): string => {
  const where = {
    reason: d.reason,
    detail: d.detail,
    topic: d.record.topic,
    partition: d.record.partition,
    offset: d.record.offset
  }
  if (d.record.raw === undefined) {
    const whole = JSON.stringify({ ...where, value: d.record.value })
    if (whole.length <= deadLetterLimit) return whole
  }
  // Binary, or too big once escaped: base64 of the bytes, the first 256 KiB of them if there are more.
  const bytes = d.record.raw ?? Buffer.from(d.record.value, "utf8")
  const truncated = bytes.length > deadLimit
  return JSON.stringify({
    ...where,
    valueBase64: Buffer.from(truncated ? bytes.subarray(0, deadLimit) : bytes).toString("base64"),
    ...(truncated ? { truncated: true, originalBytes: bytes.length } : {})
  })
}

/** The items in order, cut into batches whose values add up to at most `limit` characters (one item may exceed it alone). */
export const sizedBatches = <A extends { readonly value: string }>(
  items: ReadonlyArray<A>,
  limit: number
): Array<Array<A>> => {
  const out: Array<Array<A>> = []
  let current: Array<A> = []
  let size = 0
  for (const item of items) {
    if (current.length > 0 && size + item.value.length > limit) {
      out.push(current)
      current = []
      size = 0
    }
    current.push(item)
    size += item.value.length
  }
  if (current.length > 0) out.push(current)
  return out
}
