import { Effect } from "effect"
import type { CandleCheck } from "../../src/Domain/Completeness.js"
import * as Operator from "../../src/Domain/Operator.js"
import { lateness, type Rec } from "./completenessInput.js"

// Runs the operator over records as the consumer does: in batches, collecting candles and checks after each, with an
// optional checkpoint (the state through its JSON) and restart after one batch.

export interface Emitted {
  readonly batch: number
  readonly update: Operator.CandleUpdate
}

export interface Outcome {
  readonly updates: ReadonlyArray<Emitted>
  readonly checks: ReadonlyArray<CandleCheck>
  readonly verdicts: ReadonlyArray<string>
  /** Per gap (fromId|market), the batch that first delivered it. */
  readonly gapBatch: ReadonlyMap<string, number>
  readonly state: Operator.OperatorState
}

export const runOperator = (records: ReadonlyArray<Rec>, sizes: ReadonlyArray<number>, cut = -1): Outcome => {
  let state = Operator.emptyState()
  const changes = Operator.emptyChanges()
  const updates: Array<Emitted> = []
  const checks: Array<CandleCheck> = []
  const verdicts: Array<string> = []
  const gapBatch = new Map<string, number>()
  let i = 0
  for (let batch = 0; i < records.length; batch++) {
    const size = 1 + ((sizes[batch % Math.max(1, sizes.length)] ?? 0) % 25)
    for (const rec of records.slice(i, i + size)) {
      if (rec._tag === "tick") verdicts.push(Operator.accept(state, rec.tick, lateness, changes)._tag)
      else if (rec._tag === "gap") {
        const key = `${rec.gap.market}|${rec.gap.fromId}`
        if (!gapBatch.has(key)) gapBatch.set(key, batch)
        Operator.acceptGap(state, rec.gap, changes)
      } else Operator.acceptKline(state, rec.kline, lateness, changes)
    }
    i += size
    for (const update of Operator.collect(state, changes)) updates.push({ batch, update })
    checks.push(...Operator.takeChecks(changes))
    if (batch === cut) state = Effect.runSync(Operator.decodeState(JSON.parse(Operator.encodeState(state))))
  }
  return { updates, checks, verdicts, gapBatch, state }
}
