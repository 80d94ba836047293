import type { CoinResult } from "../Backfill.js"
import type { ProgressView } from "./Progress.js"

/** What happened to each coin so far: the one place a run keeps its state, read by the progress display and summary. */

export interface Tally {
  readonly coinId: string
  readonly symbol: string
  points: number
  toPublish: number
  published: number
  skipped: number
  bad: number
  problem?: string
  /** Not fetched, or the answer was unusable: the run fails at the end. */
  failed: boolean
  /** Nothing more will happen to it. */
  finished: boolean
  /** For the progress display: fetching, waiting, publishing n/m. */
  phase: string
}

export interface Tallies {
  /** What the run as a whole is doing while no coin is under way ("resolving symbols", "scanning the topic"). */
  stage: string
  readonly byCoin: Map<string, Tally>
}

export const makeTallies = (): Tallies => ({ stage: "starting", byCoin: new Map() })

/** A new coin, fetching. */
export const start = (tallies: Tallies, coinId: string, symbol: string): Tally => {
  const tally: Tally = {
    coinId,
    symbol,
    points: 0,
    toPublish: 0,
    published: 0,
    skipped: 0,
    bad: 0,
    failed: false,
    finished: false,
    phase: "fetching"
  }
  tallies.byCoin.set(coinId, tally)
  return tally
}

/** The progress display's view of `coinsTotal` coins. */
export const view = (tallies: Tallies, coinsTotal: number): ProgressView => {
  const all = [...tallies.byCoin.values()]
  const open = all.filter((t) => !t.finished)
  const done = (t: Tally) => (t.finished ? 1 : t.toPublish > 0 ? 0.5 + 0.5 * (t.published / t.toPublish) : 0)
  return {
    coinsDone: all.length - open.length,
    fraction: all.reduce((f, t) => f + done(t), 0) / Math.max(1, coinsTotal),
    toPublish: all.reduce((n, t) => n + t.toPublish, 0),
    published: all.reduce((n, t) => n + t.published, 0),
    activity: open.length > 0 ? open.map((t) => `${t.coinId}: ${t.phase}`).join(" · ") : tallies.stage
  }
}

export const results = (tallies: Tallies): ReadonlyArray<CoinResult> =>
  [...tallies.byCoin.values()].map((t) => ({
    coinId: t.coinId,
    symbol: t.symbol,
    points: t.points,
    published: t.published,
    skipped: t.skipped,
    bad: t.bad,
    ...(t.problem === undefined ? {} : { problem: t.problem })
  }))

export const failed = (tallies: Tallies): ReadonlyArray<Tally> => [...tallies.byCoin.values()].filter((t) => t.failed)
