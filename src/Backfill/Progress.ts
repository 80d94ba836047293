import { Clock, Effect, FiberRef, HashSet, Logger } from "effect"
import { shorten, thousands } from "../Text.js"

/** Where progress is written: a redrawn bar when `isTTY`, else one plain line per event. */
export interface ProgressSink {
  readonly isTTY: boolean
  readonly write: (text: string) => void
  /** Terminal width, for the bar. */
  readonly columns?: () => number
}

export const stderrSink: ProgressSink = {
  isTTY: process.stderr.isTTY === true,
  write: (text) => void process.stderr.write(text),
  columns: () => process.stderr.columns ?? 0
}

/** 42 s → "42s", 125 s → "2m05s", 2 h 5 min → "2h05m". */
export const formatSeconds = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/** What the progress display shows, computed from the run's tallies on every redraw. */
export interface ProgressView {
  readonly coinsDone: number
  /** 0 to 1: each coin counts half once fetched and the rest as its ticks are published. */
  readonly fraction: number
  readonly toPublish: number
  readonly published: number
  /** What is going on now, e.g. "bitcoin: publishing 800/1,827 · ethereum: fetching". */
  readonly activity: string
}

export interface Progress {
  /** A line that stays (above the bar on a terminal). */
  readonly line: (text: string) => Effect.Effect<void>
  /** The bar redrawn (terminal), or a plain line at most every 10 s (otherwise). */
  readonly tick: Effect.Effect<void>
  /** Runs `effect` with every logger clearing the bar before its line and drawing it again after. */
  readonly aroundLogs: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Clears the bar. */
  readonly finish: Effect.Effect<void>
}

/** "3/10 coins · 1,200/5,000 ticks published · 42s · ETA 1m10s", `elapsed` ms into the run. */
const describeCounts = (v: ProgressView, coinsTotal: number, elapsed: number) => {
  const eta =
    v.fraction <= 0 || (v.coinsDone === 0 && v.fraction < 0.25)
      ? "ETA --"
      : `ETA ${formatSeconds((elapsed / v.fraction) * (1 - v.fraction))}`
  return (
    `${v.coinsDone}/${coinsTotal} coins · ${thousands(v.published)}/${thousands(v.toPublish)} ticks published · ` +
    `${formatSeconds(elapsed)} · ${eta}`
  )
}

/** The bar line, cut to the terminal's width (`columns`, 0 when unknown). */
const renderBar = (v: ProgressView, counts: string, columns: number) => {
  const width = 24
  const filled = Math.round(Math.min(1, v.fraction) * width)
  const activity = v.activity.length > 0 ? ` · ${v.activity}` : ""
  const text = `backfill [${"#".repeat(filled)}${".".repeat(width - filled)}] ${counts}${activity}`
  return shorten(text, Math.max(40, (columns > 0 ? columns : 100) - 1))
}

/** The display of one run: lines that stay, a bar (terminal) or a line every 10 s (otherwise), and log lines around it. */
export const makeProgress = (
  sink: ProgressSink,
  coinsTotal: number,
  startedAt: number,
  view: () => ProgressView
): Progress => {
  let barShown = false
  let lastPlain = 0

  const counts = (v: ProgressView, now: number) => describeCounts(v, coinsTotal, now - startedAt)
  const bar = (now: number) => {
    const v = view()
    return renderBar(v, counts(v, now), sink.columns?.() ?? 0)
  }

  const clear = () => {
    if (barShown) sink.write("\r\x1b[2K")
    barShown = false
  }
  const draw = (now: number) => {
    sink.write(`\r\x1b[2K${bar(now)}`)
    barShown = true
  }

  return {
    line: (text: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (sink.isTTY) {
          clear()
          sink.write(`${text}\n`)
          draw(now)
        } else {
          sink.write(`${text} [${counts(view(), now)}]\n`)
          lastPlain = now
        }
      }),
    tick: Effect.map(Clock.currentTimeMillis, (now) => {
      if (sink.isTTY) draw(now)
      else if (now - lastPlain >= 10_000) {
        const v = view()
        sink.write(`backfill: ${v.activity.length > 0 ? v.activity : "working"} [${counts(v, now)}]\n`)
        lastPlain = now
      }
    }),
    aroundLogs: <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      sink.isTTY
        ? Effect.locallyWith(effect, FiberRef.currentLoggers, (loggers) =>
            HashSet.map(loggers, (logger) =>
              Logger.make((options) => {
                const shown = barShown
                clear()
                logger.log(options)
                if (shown) draw(Date.now())
              })
            )
          )
        : effect,
    finish: Effect.sync(() => clear())
  }
}
