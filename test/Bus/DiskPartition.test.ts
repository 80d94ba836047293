import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type DiskOptions, DiskPartition, LogDamaged } from "../../src/Bus/DiskPartition.js"
import { mulberry32 } from "../../support/random.mjs"

// The embedded log's partition on disk: what is appended is read back after a reopen, a torn last record is cut and
// never read, retention deletes whole old segments. The expected records are the test's own list of what it wrote.

const dirs: Array<string> = []
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "disk-partition-"))
  dirs.push(dir)
  return join(dir, "p0")
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const options: DiskOptions = {
  retentionMs: 3_600_000,
  retentionBytes: 1 << 30,
  segmentBytes: 4096,
  segmentMs: 3_600_000
}
const t0 = Date.UTC(2026, 0, 1)

interface Written {
  readonly offset: number
  readonly key: string | null
  readonly value: string
  readonly timestamp: number
}

/** Everything from `from`, read the way a consumer does: batch after batch until the end. */
const readAll = (p: DiskPartition, from = 0, batch = 7): Array<Written> => {
  const out: Array<Written> = []
  let next = from
  for (;;) {
    const got = p.read(next, batch)
    if (got.length === 0) return out
    out.push(...got)
    next = (got[got.length - 1] as Written).offset + 1
  }
}

const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .sort()

/** The bytes a record takes on disk, from the format's definition: 8 header + 20 fixed + key + value (UTF-8). */
const frameBytes = (key: string | null, value: string) =>
  28 + (key === null ? 0 : Buffer.byteLength(key)) + Buffer.byteLength(value)

describe("DiskPartition", () => {
  it("reads back what was appended, across segments, after a reopen", () => {
    const dir = fresh()
    const written: Array<Written> = []
    const p = new DiskPartition(dir, options)
    for (let b = 0; b < 30; b++) {
      const batch = Array.from({ length: 1 + (b % 5) }, (_, i) => ({
        key: `K${b % 3}`,
        value: `{"b":${b},"i":${i},"é":"ü"}`
      }))
      p.append(batch, t0 + b)
      for (const m of batch) written.push({ offset: written.length, ...m, timestamp: t0 + b })
    }
    expect(readAll(p)).toEqual(written)
    p.close()
    expect(segmentsOf(dir).length, "several segments").toBeGreaterThan(1)
    const again = new DiskPartition(dir, options)
    expect(again.notes).toEqual([])
    expect([again.base(), again.end()]).toEqual([0, written.length])
    expect(readAll(again)).toEqual(written)
    expect(readAll(again, 50, 1000)).toEqual(written.slice(50))
    again.append([{ key: "K9", value: "after" }], t0 + 100)
    expect(again.read(written.length, 10)).toEqual([
      { offset: written.length, key: "K9", value: "after", timestamp: t0 + 100 }
    ])
    again.close()
  })

  it("reads a record larger than its read chunk", () => {
    const dir = fresh()
    const p = new DiskPartition(dir, { ...options, segmentBytes: 1 << 24 })
    const big = "x".repeat(600_000)
    p.append(
      [
        { key: "A", value: "small" },
        { key: "B", value: big },
        { key: null, value: "tail" }
      ],
      t0
    )
    expect(p.read(0, 10).map((r) => [r.key, r.value.length])).toEqual([
      ["A", 5],
      ["B", 600_000],
      [null, 4]
    ])
    p.close()
  })

  it("cuts a torn last record after a crash and never reads it; then appends after it", () => {
    const dir = fresh()
    const p = new DiskPartition(dir, { ...options, segmentBytes: 1 << 20 })
    p.append(
      [
        { key: "A", value: "one" },
        { key: "A", value: "two" }
      ],
      t0
    )
    p.close()
    const [seg] = segmentsOf(dir)
    const path = join(dir, seg as string)
    const acked = statSync(path).size
    // A third record torn by the crash: its header and half its body.
    const fd = openSync(path, "r+")
    writeSync(fd, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9]), 0, 12, acked)
    closeSync(fd)
    const again = new DiskPartition(dir, options)
    expect(again.notes.join("\n")).toMatch(/cut 12 bytes/)
    expect(statSync(path).size).toBe(acked)
    expect(readAll(again).map((r) => r.value)).toEqual(["one", "two"])
    again.append([{ key: "A", value: "three" }], t0 + 1)
    expect(readAll(again).map((r) => [r.offset, r.value])).toEqual([
      [0, "one"],
      [1, "two"],
      [2, "three"]
    ])
    again.close()
  })

  it("cuts a last record whose checksum does not match (a torn write can leave whole-looking garbage)", () => {
    const dir = fresh()
    const p = new DiskPartition(dir, { ...options, segmentBytes: 1 << 20 })
    p.append([{ key: "A", value: "one" }], t0)
    p.append([{ key: "A", value: "two" }], t0)
    p.close()
    const path = join(dir, segmentsOf(dir)[0] as string)
    const size = statSync(path).size
    const fd = openSync(path, "r+")
    writeSync(fd, Buffer.from("X"), 0, 1, size - 1) // the last byte of "two"
    closeSync(fd)
    const again = new DiskPartition(dir, options)
    expect(again.notes.join("\n")).toMatch(/cut 32 bytes/)
    expect(readAll(again).map((r) => r.value)).toEqual(["one"])
    again.close()
  })

  it("refuses damage in a segment that is not the last (not what a crash leaves)", () => {
    const dir = fresh()
    const p = new DiskPartition(dir, { ...options, segmentBytes: 64 })
    for (let i = 0; i < 5; i++) p.append([{ key: "A", value: `value ${i}` }], t0)
    p.close()
    const first = join(dir, segmentsOf(dir)[0] as string)
    truncateSync(first, statSync(first).size - 3)
    expect(() => new DiskPartition(dir, options)).toThrow(LogDamaged)
  })

  it("retention by size deletes whole old segments, never the newest; a reader behind resumes at the earliest", () => {
    const dir = fresh()
    const p = new DiskPartition(dir, { ...options, segmentBytes: 1000, retentionBytes: 3000 })
    const value = "v".repeat(100 - 28 - 1) // 100 bytes a record with a 1-byte key
    for (let i = 0; i < 100; i++) p.append([{ key: "A", value }], t0)
    const segments = segmentsOf(dir)
    const bytes = segments.reduce((n, s) => n + statSync(join(dir, s)).size, 0)
    expect(bytes).toBe(p.size())
    // Deleted while the rest still holds 3000 bytes: at most 3000 + one segment (and its overshoot) remain.
    expect(bytes).toBeGreaterThanOrEqual(3000)
    expect(bytes).toBeLessThan(3000 + 1100)
    expect(p.base()).toBe(100 - bytes / 100)
    expect(Number((segments[0] as string).slice(0, 20))).toBe(p.base())
    expect(p.read(0, 1)[0]?.offset).toBe(p.base())
    p.close()
  })

  it("retention by time deletes segments whose newest record is older than the retention", () => {
    const dir = fresh()
    const hour = 3_600_000
    const p = new DiskPartition(dir, { ...options, retentionMs: 3 * hour, segmentMs: hour })
    for (let h = 0; h < 6; h++) p.append([{ key: "A", value: `hour ${h}` }], t0 + h * hour)
    // Each record is an hour after the one before: each in its own segment; those older than 3 hours are gone.
    expect(segmentsOf(dir).length).toBe(4)
    expect(readAll(p).map((r) => r.value)).toEqual(["hour 2", "hour 3", "hour 4", "hour 5"])
    p.retain(t0 + 100 * hour)
    expect(
      readAll(p).map((r) => r.value),
      "the newest segment stays"
    ).toEqual(["hour 5"])
    p.close()
  })
})

const seed = process.env["PROPERTY_SEED"] ? Number(process.env["PROPERTY_SEED"]) : Date.now()
console.log("property seed", seed)

describe("DiskPartition after a crash at a random point (seeded)", () => {
  it("reads every acknowledged record, then at most a prefix of the torn batch, never a damaged one", () => {
    const rng = mulberry32(seed)
    for (let run = 0; run < 40; run++) {
      const dir = fresh()
      const opts = { ...options, segmentBytes: 256 + Math.floor(rng() * 8192) }
      const p = new DiskPartition(dir, opts)
      const acked: Array<Written> = []
      const size = () => (rng() < 0.05 ? Math.floor(rng() * 300_000) : Math.floor(rng() * 400))
      const batches = 1 + Math.floor(rng() * 20)
      for (let b = 0; b < batches; b++) {
        const batch = Array.from({ length: 1 + Math.floor(rng() * 6) }, (_, i) => ({
          key: rng() < 0.1 ? null : `K${i}`,
          value: "é".repeat(Math.floor(size() / 2))
        }))
        p.append(batch, t0 + b)
        for (const m of batch) acked.push({ offset: acked.length, ...m, timestamp: t0 + b })
      }
      // The batch the crash tears: written (not acknowledged), then cut at a random byte of it, the rest zeros or gone.
      const torn = Array.from({ length: 1 + Math.floor(rng() * 4) }, () => ({ key: "T", value: "t".repeat(size()) }))
      const last = join(dir, segmentsOf(dir).at(-1) as string)
      p.append(torn, t0 + batches)
      p.close()
      const lastNow = join(dir, segmentsOf(dir).at(-1) as string)
      const before =
        lastNow === last ? statSync(lastNow).size - torn.reduce((n, m) => n + frameBytes(m.key, m.value), 0) : 0
      const cut = before + Math.floor(rng() * (statSync(lastNow).size - before))
      truncateSync(lastNow, cut)
      if (rng() < 0.5) truncateSync(lastNow, cut + Math.floor(rng() * 100)) // zeros where the crash left a hole
      const again = new DiskPartition(dir, opts)
      const got = readAll(again, 0, 1 + Math.floor(rng() * 50))
      let complete = 0
      for (let fit = before; complete < torn.length; complete++) {
        fit += frameBytes(torn[complete]!.key, torn[complete]!.value)
        if (fit > cut) break
      }
      const expected = [
        ...acked,
        ...torn.slice(0, complete).map((m, i) => ({ offset: acked.length + i, ...m, timestamp: t0 + batches }))
      ]
      expect(got.length, `run ${run}`).toBe(expected.length)
      expect(got, `run ${run}`).toEqual(expected)
      expect(again.end()).toBe(expected.length)
      // Writing goes on after the cut, into later segments; the next start reads it all, the cut segment included.
      const after = Array.from({ length: 3 }, (_, i) => ({
        key: "N",
        value: "n".repeat(i === 0 ? opts.segmentBytes : 10)
      }))
      for (const m of after) {
        again.append([m], t0 + batches + 1)
        expected.push({ offset: expected.length, ...m, timestamp: t0 + batches + 1 })
      }
      again.close()
      const third = new DiskPartition(dir, opts)
      expect(third.notes, `run ${run}`).toEqual([])
      expect(readAll(third), `run ${run}`).toEqual(expected)
      third.close()
    }
  })
})
