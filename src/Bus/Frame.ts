import { crc32 } from "node:zlib"

/**
 * One record of the embedded log on disk, little-endian:
 *   u32 body length · u32 CRC-32 of the body · body = f64 offset · f64 append time (epoch ms) ·
 *   i32 key length (-1: no key) · key (UTF-8) · value (UTF-8, the rest of the body).
 * A frame cut short or whose checksum does not match is never read as a record: it ends the readable part.
 */

export const HEADER = 8
const FIXED = 20 // offset, timestamp, key length

export interface FrameRecord {
  readonly offset: number
  readonly timestamp: number
  readonly key: string | null
  readonly value: string
}

export const encode = (r: FrameRecord): Buffer => {
  const key = r.key === null ? undefined : Buffer.from(r.key, "utf8")
  const valueBytes = Buffer.byteLength(r.value, "utf8")
  const bodyLength = FIXED + (key?.length ?? 0) + valueBytes
  const out = Buffer.allocUnsafe(HEADER + bodyLength)
  out.writeUInt32LE(bodyLength, 0)
  out.writeDoubleLE(r.offset, HEADER)
  out.writeDoubleLE(r.timestamp, HEADER + 8)
  out.writeInt32LE(key === undefined ? -1 : key.length, HEADER + 16)
  let at = HEADER + FIXED
  if (key !== undefined) at += key.copy(out, at)
  out.write(r.value, at, "utf8")
  out.writeUInt32LE(crc32(out.subarray(HEADER)), 4)
  return out
}

/** The frame at `pos`: its record and length, "short" when the buffer ends inside it, "bad" when it is damaged. */
export const decodeAt = (
  buf: Buffer,
  pos: number
): { readonly record: FrameRecord; readonly length: number } | "short" | "bad" => {
  if (buf.length - pos < HEADER) return "short"
  const bodyLength = buf.readUInt32LE(pos)
  if (bodyLength < FIXED) return "bad"
  if (buf.length - pos - HEADER < bodyLength) return "short"
  const body = buf.subarray(pos + HEADER, pos + HEADER + bodyLength)
  if (crc32(body) !== buf.readUInt32LE(pos + 4)) return "bad"
  const keyLength = body.readInt32LE(16)
  if (keyLength < -1 || FIXED + Math.max(0, keyLength) > bodyLength) return "bad"
  const valueAt = FIXED + Math.max(0, keyLength)
  return {
    record: {
      offset: body.readDoubleLE(0),
      timestamp: body.readDoubleLE(8),
      key: keyLength < 0 ? null : body.toString("utf8", FIXED, valueAt),
      value: body.toString("utf8", valueAt)
    },
    length: HEADER + bodyLength
  }
}

/** The length a frame at `pos` claims (header included), for reading enough of a large one. */
export const claimedLength = (buf: Buffer, pos: number): number | undefined =>
  buf.length - pos < HEADER ? undefined : HEADER + buf.readUInt32LE(pos)
