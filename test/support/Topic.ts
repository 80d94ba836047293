import { Chunk, Effect, Schema, Stream } from "effect"
import type { BusShape } from "../../src/Bus/Bus.js"
import { TickJson } from "../../src/Domain/Tick.js"

/** Every record now on `topic`, partition by partition, as (key, tick): what the processor would read. */
export const readTicks = (bus: BusShape, topic: string) =>
  Effect.gen(function* () {
    const ends = yield* bus.endOffsets(topic)
    const total = [...ends.values()].reduce((a, b) => a + b, 0)
    if (total === 0) return []
    const records = yield* bus
      .consume({ topic, groupId: `read-${Math.random()}`, onAssign: () => Effect.succeed(new Map()) })
      .pipe(
        Stream.flatMap((e) => (e._tag === "Records" ? Stream.fromIterable(e.records) : Stream.empty)),
        Stream.take(total),
        Stream.runCollect
      )
    return Chunk.toArray(records).map((r) => ({ key: r.key, tick: Schema.decodeSync(TickJson)(r.value) }))
  })
