import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync
} from "node:fs"
import { join } from "node:path"
import { Clock, Effect, Either, Schema } from "effect"
import { BusError, type BusRecord } from "./Bus.js"
import { type DiskOptions, DiskPartition } from "./DiskPartition.js"
import type { Partition } from "./MemoryLog.js"

/**
 * The embedded log's topics on disk: `<dir>/<topic>/meta.json` (its partition count, written last and atomically, so
 * a topic exists once it is complete) and one directory of segments per partition, `<dir>/<topic>/<n>/`.
 */

export interface DiskLogOptions extends Partial<Omit<DiskOptions, "retentionMs" | "retentionBytes">> {
  readonly dir: string
  readonly retentionMs: number
  readonly retentionBytes: number
}

const Meta = Schema.parseJson(Schema.Struct({ partitions: Schema.Int.pipe(Schema.between(1, 1000)) }))
const decodeMeta = Schema.decodeUnknownEither(Meta)

/** Kafka's rule for topic names; it also keeps them safe as directory names. */
const validTopic = (topic: string) => /^[A-Za-z0-9._-]{1,249}$/.test(topic) && topic !== "." && topic !== ".."

const syncDir = (dir: string) => {
  const fd = openSync(dir, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

const writeMeta = (topicDir: string, partitions: number) => {
  const tmp = join(topicDir, "meta.json.tmp")
  const fd = openSync(tmp, "w")
  try {
    writeSync(fd, JSON.stringify({ partitions }))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(topicDir, "meta.json"))
  syncDir(topicDir)
}

const asPartition = (topic: string, partition: number, disk: DiskPartition): Partition => ({
  base: () => disk.base(),
  end: () => disk.end(),
  read: (from, max) => disk.read(from, max).map((r): BusRecord => ({ topic, partition, ...r })),
  append: (messages, now) => disk.append(messages, now)
})

const segmentDefaults = (o: DiskLogOptions): DiskOptions => ({
  retentionMs: o.retentionMs,
  retentionBytes: o.retentionBytes,
  // Small enough that size retention is close to its bound, large enough to keep the files few.
  segmentBytes: o.segmentBytes ?? Math.max(1 << 20, Math.min(64 << 20, Math.floor(o.retentionBytes / 8))),
  segmentMs: o.segmentMs ?? Math.min(3_600_000, o.retentionMs)
})

const openTopic = (dir: string, topic: string, options: DiskOptions, opened: Array<DiskPartition>) => {
  const text = readFileSync(join(dir, topic, "meta.json"), "utf8")
  const meta = decodeMeta(text)
  if (Either.isLeft(meta))
    throw new Error(`${join(dir, topic, "meta.json")}: not a topic's meta file: ${meta.left.message}`)
  return Array.from({ length: meta.right.partitions }, (_, i) => {
    const disk = new DiskPartition(join(dir, topic, String(i)), options)
    opened.push(disk)
    return asPartition(topic, i, disk)
  })
}

/** Opens every complete topic under `dir` (creating `dir`), reporting what was repaired; closes them with the scope. */
export const open = (o: DiskLogOptions) =>
  Effect.gen(function* () {
    const options = segmentDefaults(o)
    const opened: Array<DiskPartition> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const p of opened) p.close()
      })
    )
    const topics = yield* Effect.try({
      try: () => {
        mkdirSync(o.dir, { recursive: true })
        const names = readdirSync(o.dir).filter((t) => validTopic(t) && existsSync(join(o.dir, t, "meta.json")))
        return new Map(names.map((t) => [t, openTopic(o.dir, t, options, opened)] as const))
      },
      catch: (cause) =>
        new BusError({
          reason: "connect",
          message: `cannot open the embedded log in ${o.dir}: ${String(cause)}`,
          cause
        })
    })
    const now = yield* Clock.currentTimeMillis
    for (const p of opened) {
      p.retain(now)
      for (const note of p.notes) yield* Effect.logWarning(`embedded log: ${note}`)
    }
    const records = opened.reduce((n, p) => n + p.end() - p.base(), 0)
    yield* Effect.logInfo(`embedded log: ${topics.size} topics, ${records} records in ${o.dir}`)
    const createTopic = (topic: string, partitions: number) => {
      if (!validTopic(topic)) throw new Error(`"${topic}" is not a valid topic name (letters, digits, ".", "_", "-")`)
      const topicDir = join(o.dir, topic)
      const parts = Array.from({ length: partitions }, (_, i) => {
        const disk = new DiskPartition(join(topicDir, String(i)), options)
        opened.push(disk)
        return asPartition(topic, i, disk)
      })
      writeMeta(topicDir, partitions)
      syncDir(o.dir)
      return parts
    }
    return { topics, createTopic }
  })
