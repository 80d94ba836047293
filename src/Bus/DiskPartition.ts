import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync
} from "node:fs"
import { join } from "node:path"
import { claimedLength, decodeAt, encode, type FrameRecord } from "./Frame.js"

/**
 * One partition of the embedded log on disk: a directory of append-only segment files named by their first offset
 * (`00000000000000000000.log`). Appends go to the newest segment and are fdatasync'd before `append` returns, so an
 * acknowledged publish survives a crash of the process or the machine. On open every segment is read through once
 * (checksums checked) to build a sparse index; a damaged or cut-short frame at the end of the newest segment (a write
 * torn by a crash, never acknowledged) is truncated away and reported. Damage anywhere else is refused: that is not
 * what a crash leaves. Retention deletes whole segments, never the one being written.
 */

export interface DiskOptions {
  readonly retentionMs: number
  /** Per partition: whole old segments go while the rest still holds at least this many bytes. */
  readonly retentionBytes: number
  /** A segment is closed for writing at this size... */
  readonly segmentBytes: number
  /** ...or once its first record is this old, so time retention can delete it. */
  readonly segmentMs: number
}

const INDEX_EVERY = 64
const READ_CHUNK = 256 * 1024

interface Segment {
  readonly base: number
  readonly path: string
  count: number
  size: number
  firstTime: number
  lastTime: number
  /** Byte position of every INDEX_EVERY-th record. */
  readonly index: Array<number>
}

export class LogDamaged extends Error {}

const segmentName = (base: number) => `${String(base).padStart(20, "0")}.log`

const fsyncDir = (dir: string) => {
  const fd = openSync(dir, "r")
  try {
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Reads a segment through, checking every frame; returns where its readable part ends. */
const scan = (seg: Segment, expectNext: number): { readonly end: number; readonly damaged: boolean } => {
  const buf = readFileSync(seg.path)
  let pos = 0
  while (pos < buf.length) {
    const frame = decodeAt(buf, pos)
    if (typeof frame === "string") return { end: pos, damaged: true }
    if (frame.record.offset !== expectNext + seg.count) {
      throw new LogDamaged(
        `${seg.path} at byte ${pos}: offset ${frame.record.offset}, expected ${expectNext + seg.count}`
      )
    }
    if (seg.count % INDEX_EVERY === 0) seg.index.push(pos)
    if (seg.count === 0) seg.firstTime = frame.record.timestamp
    seg.lastTime = Math.max(seg.lastTime, frame.record.timestamp)
    seg.count += 1
    pos += frame.length
  }
  return { end: pos, damaged: false }
}

const newSegment = (dir: string, base: number): Segment => ({
  base,
  path: join(dir, segmentName(base)),
  count: 0,
  size: 0,
  firstTime: 0,
  lastTime: 0,
  index: []
})

export class DiskPartition {
  private readonly segments: Array<Segment> = []
  private fd = -1
  private reader: { readonly base: number; readonly fd: number } | undefined
  /** Reads decode into strings (Frame.ts copies them out), so one buffer serves every read: no 256 KB garbage each. */
  private readonly scratch = Buffer.allocUnsafe(READ_CHUNK)
  /** What opening found and did, for the log. */
  readonly notes: Array<string> = []

  constructor(
    readonly dir: string,
    readonly options: DiskOptions
  ) {
    mkdirSync(dir, { recursive: true })
    const bases = readdirSync(dir)
      .flatMap((f) => (/^\d{20}\.log$/.test(f) ? [Number(f.slice(0, 20))] : []))
      .sort((a, b) => a - b)
    for (const [i, base] of bases.entries()) {
      const seg = newSegment(dir, base)
      const prev = this.segments[this.segments.length - 1]
      if (prev !== undefined && prev.base + prev.count !== base)
        throw new LogDamaged(
          `${seg.path}: starts at offset ${base}, but ${prev.path} ends at ${prev.base + prev.count}`
        )
      const { end, damaged } = scan(seg, base)
      seg.size = end
      if (damaged && i < bases.length - 1) throw new LogDamaged(`${seg.path}: damaged record at byte ${end}`)
      if (damaged) this.truncateTail(seg, end)
      this.segments.push(seg)
    }
    if (this.segments.length === 0) this.segments.push(this.create(0))
    this.fd = openSync(this.active.path, "r+")
  }

  private truncateTail(seg: Segment, end: number) {
    const fd = openSync(seg.path, "r+")
    try {
      const size = fstatSync(fd).size
      ftruncateSync(fd, end)
      fdatasyncSync(fd)
      this.notes.push(`${seg.path}: cut ${size - end} bytes of a record torn by a crash (never acknowledged)`)
    } finally {
      closeSync(fd)
    }
  }

  private create(base: number): Segment {
    const seg = newSegment(this.dir, base)
    closeSync(openSync(seg.path, "wx"))
    fsyncDir(this.dir)
    return seg
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1] as Segment
  }

  /** The earliest retained offset. */
  base(): number {
    return (this.segments[0] as Segment).base
  }

  /** The next offset to be written. */
  end(): number {
    return this.active.base + this.active.count
  }

  /** Bytes on disk. */
  size(): number {
    return this.segments.reduce((n, s) => n + s.size, 0)
  }

  segmentCount(): number {
    return this.segments.length
  }

  /** Writes the records (given offsets from `end()`), durably, then applies retention. A failed write leaves no trace. */
  append(records: ReadonlyArray<{ readonly key: string | null; readonly value: string }>, now: number): void {
    if (records.length === 0) return
    this.maybeRoll(now)
    const seg = this.active
    const frames = records.map((r, i) => encode({ offset: seg.base + seg.count + i, timestamp: now, ...r }))
    const bytes = Buffer.concat(frames)
    try {
      let written = 0
      while (written < bytes.length)
        written += writeSync(this.fd, bytes, written, bytes.length - written, seg.size + written)
      fdatasyncSync(this.fd)
    } catch (e) {
      ftruncateSync(this.fd, seg.size)
      throw e
    }
    let pos = seg.size
    for (const f of frames) {
      if (seg.count % INDEX_EVERY === 0) seg.index.push(pos)
      if (seg.count === 0) seg.firstTime = now
      seg.count += 1
      pos += f.length
    }
    seg.size = pos
    seg.lastTime = Math.max(seg.lastTime, now)
    this.retain(now)
  }

  private maybeRoll(now: number) {
    const seg = this.active
    if (seg.count === 0) return
    if (seg.size < this.options.segmentBytes && now - seg.firstTime < this.options.segmentMs) return
    const next = this.create(seg.base + seg.count)
    closeSync(this.fd)
    this.segments.push(next)
    this.fd = openSync(next.path, "r+")
  }

  /** Deletes the oldest segments that are past the retention in time or in size; never the newest. */
  retain(now: number): void {
    let total = this.size()
    for (;;) {
      const oldest = this.segments[0] as Segment
      if (this.segments.length < 2) return
      const old = oldest.lastTime < now - this.options.retentionMs
      const over = total - oldest.size >= this.options.retentionBytes
      if (!old && !over) return
      if (this.reader?.base === oldest.base) this.closeReader()
      unlinkSync(oldest.path)
      this.segments.shift()
      total -= oldest.size
    }
  }

  private closeReader() {
    if (this.reader !== undefined) closeSync(this.reader.fd)
    this.reader = undefined
  }

  private fdFor(seg: Segment): number {
    if (seg === this.active) return this.fd
    if (this.reader?.base !== seg.base) {
      this.closeReader()
      this.reader = { base: seg.base, fd: openSync(seg.path, "r") }
    }
    return this.reader.fd
  }

  /** Up to `max` records from offset `from` (or the earliest retained one), all from one segment. */
  read(from: number, max: number): ReadonlyArray<FrameRecord> {
    const start = Math.max(from, this.base())
    if (start >= this.end() || max <= 0) return []
    let lo = 0
    let hi = this.segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.segments[mid] as Segment).base <= start) lo = mid
      else hi = mid - 1
    }
    const seg = this.segments[lo] as Segment
    if (start >= seg.base + seg.count) return []
    const rel = start - seg.base
    const slot = Math.floor(rel / INDEX_EVERY)
    return this.readFrom(seg, seg.index[slot] as number, rel - slot * INDEX_EVERY, max)
  }

  private readFrom(seg: Segment, pos: number, skip: number, max: number): Array<FrameRecord> {
    const fd = this.fdFor(seg)
    const out: Array<FrameRecord> = []
    let chunk = READ_CHUNK
    while (out.length < max && pos < seg.size) {
      const length = Math.min(chunk, seg.size - pos)
      const buf = length <= this.scratch.length ? this.scratch : Buffer.allocUnsafe(length)
      const n = readSync(fd, buf, 0, length, pos)
      const view = buf.subarray(0, n)
      let at = 0
      while (out.length < max) {
        const frame = decodeAt(view, at)
        if (frame === "bad") throw new LogDamaged(`${seg.path} at byte ${pos + at}: damaged record`)
        if (frame === "short") break
        if (skip > 0) skip -= 1
        else out.push(frame.record)
        at += frame.length
      }
      if (at === 0) {
        // One frame larger than a chunk: read it whole. A frame that claims to run past the segment is damage.
        const need = claimedLength(view, 0) ?? Number.POSITIVE_INFINITY
        if (need <= view.length || need > seg.size - pos)
          throw new LogDamaged(`${seg.path} at byte ${pos}: damaged record`)
        chunk = need
      }
      pos += at
    }
    return out
  }

  close(): void {
    this.closeReader()
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}
