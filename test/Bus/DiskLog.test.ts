import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Stream } from "effect"
import type { BusRecord, BusShape } from "../../src/Bus/Bus.js"
import * as MemoryBus from "../../src/Bus/Memory.js"

// The embedded bus on disk, through the Bus interface: what one process published is there for the next one (same
// partitions, offsets, keys and values), an existing topic keeps its partition count, and a bad meta file is an error.

const topic = "prices"
const open = (dir: string) =>
  Effect.map(
    MemoryBus.makeOnDiskWithGroups({ dir, retentionMs: 3_600_000, retentionBytes: 1 << 30, segmentBytes: 2048 }),
    ({ bus }) => bus
  )

const consumeAll = (bus: BusShape, count: number) =>
  bus.consume({ topic, groupId: "g", onAssign: () => Effect.succeed(new Map<number, number>()) }).pipe(
    Stream.flatMap((e) => (e._tag === "Records" ? Stream.fromIterable(e.records) : Stream.empty)),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toArray),
    Effect.timeout("20 seconds")
  )

const withDir = <A, E>(use: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "disk-log-"))),
    use,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const byPlace = (rs: ReadonlyArray<BusRecord>) =>
  rs
    .map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp }))
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset)

describe("the embedded bus on disk", () => {
  it.live("gives the next process what the last one published", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const messages = Array.from({ length: 300 }, (_, i) => ({ key: `SYM${i % 7}`, value: JSON.stringify({ i }) }))
        const first = yield* Effect.scoped(
          Effect.gen(function* () {
            const bus = yield* open(dir)
            yield* bus.ensureTopic(topic, 3)
            for (let i = 0; i < messages.length; i += 25) yield* bus.publish(topic, messages.slice(i, i + 25))
            return { records: yield* consumeAll(bus, messages.length), ends: yield* bus.endOffsets(topic) }
          })
        )
        expect(first.records.map((r) => JSON.parse(r.value).i).sort((a, b) => a - b)).toEqual(messages.map((_, i) => i))
        const second = yield* Effect.scoped(
          Effect.gen(function* () {
            const bus = yield* open(dir)
            yield* bus.ensureTopic(topic, 3)
            const refused = yield* Effect.exit(bus.ensureTopic(topic, 4))
            return { records: yield* consumeAll(bus, messages.length), ends: yield* bus.endOffsets(topic), refused }
          })
        )
        expect(byPlace(second.records)).toEqual(byPlace(first.records))
        expect(second.ends).toEqual(first.ends)
        expect(Exit.isFailure(second.refused) && String(second.refused.cause)).toContain("has 3 partitions, not the 4")
      })
    )
  )

  it.live("refuses to open a topic whose meta file is not one, naming the file", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        yield* Effect.scoped(Effect.flatMap(open(dir), (bus) => bus.ensureTopic(topic, 2)))
        writeFileSync(join(dir, topic, "meta.json"), '{"partitions":"two"}')
        const exit = yield* Effect.exit(Effect.scoped(open(dir)))
        expect(Exit.isFailure(exit) && String(exit.cause)).toContain(join(dir, topic, "meta.json"))
      })
    )
  )
})
