import { Effect, Metric } from "effect"
import { globalValue } from "effect/GlobalValue"
import { pendingGauge, ticksProcessed } from "../Processor/Metrics.js"
import { thousands } from "../Text.js"

// How far a history published before going live (the simulator's day, a CoinGecko backfill) has got: a log line every
// `STEP_PERCENT` of it published, and the state /ready carries (`history: {published, processed, total}`) until the
// processor has taken it all, so the dashboard's status bar can say "loading history 42%". One per process: `service`
// runs the producer, the processor and the api together (publishing takes a second or two, processing most of the wait).

export interface Progress {
  readonly published: number
  readonly processed: number
  readonly total: number
}

const STEP_PERCENT = 10

interface State {
  readonly published: number
  readonly total: number
  /** ticks_processed_total when the history started: the history is the first the processor takes after it. */
  readonly base: number
}

const current = globalValue(Symbol.for("crypto-pipeline/HistoryProgress"), () => ({
  value: undefined as State | undefined
}))

const processedSoFar = Effect.map(Metric.value(ticksProcessed), (s) => s.count)
/** Processed and checkpointed (in the database, on the chart): the processed ones not waiting for a checkpoint. */
const storedSoFar = Effect.zipWith(processedSoFar, Metric.value(pendingGauge), (done, pending) => done - pending.value)

/** The history in progress, or undefined (none, or every tick of it processed: then it is forgotten). */
export const get: Effect.Effect<Progress | undefined> = Effect.gen(function* () {
  const s = current.value
  if (s === undefined) return undefined
  const processed = Math.min(s.total, Math.max(0, (yield* storedSoFar) - s.base))
  if (processed >= s.total && s.published >= s.total) {
    current.value = undefined
    return undefined
  }
  return { published: s.published, processed, total: s.total }
})

/** A history of `total` ticks starts (logged). */
export const start = (total: number, what: string) =>
  Effect.gen(function* () {
    const base = yield* processedSoFar
    current.value = total > 0 ? { published: 0, total, base } : undefined
    yield* Effect.logInfo(`history: ${what}: ${thousands(total)} ticks to publish before going live`)
  })

const line = (published: number, total: number) =>
  `history: ${thousands(published)} of ${thousands(total)} ticks published` +
  (published >= total ? ", done" : ` (${Math.floor((published * 100) / total)}%)`)

/** `n` more ticks of the history are published: a line each time it crosses a STEP_PERCENT. */
export const advance = (n: number) =>
  Effect.suspend(() => {
    const before = current.value
    if (before === undefined) return Effect.void
    const published = Math.min(before.total, before.published + n)
    current.value = { ...before, published }
    const step = (p: number) => Math.floor((p * 100) / before.total / STEP_PERCENT)
    return step(published) > step(before.published) ? Effect.logInfo(line(published, before.total)) : Effect.void
  })

/** The history ended with `published` ticks (an estimated total becomes the real one; none: forgotten). */
export const settle = (published: number) =>
  Effect.sync(() => {
    const s = current.value
    if (s === undefined) return
    current.value = published > 0 ? { ...s, published, total: published } : undefined
  })
