import { Effect, Schedule, Schema, Stream } from "effect"
import { Bus } from "./Bus/Bus.js"
import { AppConfig } from "./Config.js"
import { TickJson } from "./Domain/Tick.js"
import * as Sources from "./Sources/index.js"

const encodeTick = Schema.encodeSync(TickJson)

/** Publishing retries with backoff while the bus is away; the source waits meanwhile (backpressure). */
const publishRetry = Schedule.exponential("200 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("10 seconds"))
)

/** Source → bus, keyed by symbol. Runs until interrupted. */
export const run = Effect.gen(function*() {
  const config = yield* AppConfig
  const bus = yield* Bus
  yield* bus.ensureTopic(config.topic.topic, config.topic.partitions)
  const ticks = yield* Sources.fromConfig(config.source)
  yield* Effect.logInfo(`producer: publishing to ${config.topic.topic} on the ${bus.kind} bus`)
  yield* ticks.pipe(
    Stream.groupedWithin(500, "50 millis"),
    Stream.mapEffect((chunk) =>
      bus.publish(
        config.topic.topic,
        Array.from(chunk, (tick) => ({ key: tick.symbol, value: encodeTick(tick) }))
      ).pipe(
        Effect.tapError((e) => Effect.logWarning(`producer: publish failed, retrying: ${e.message}`)),
        Effect.retry(publishRetry)
      )
    ),
    Stream.runDrain
  )
}).pipe(Effect.annotateLogs({ stage: "producer" }))

