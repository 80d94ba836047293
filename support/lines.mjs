// @ts-check
// Reading what a started process prints: JSON lines, and waiting for one or for its health endpoint.
import { eventually, httpOk } from "./waiting.mjs"

/** @typedef {import("./processes.mjs").Proc} Proc */

/**
 * Parses JSON lines a helper prints on stdout, calling `onLine` for each.
 * @param {Proc} proc
 * @param {(line: any) => void} onLine
 */
export const jsonLines = (proc, onLine) => {
  let buf = ""
  proc.child.stdout?.on("data", (d) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (line.startsWith("{")) {
        try {
          onLine(JSON.parse(line))
        } catch {
          // not ours
        }
      }
    }
  })
}

/**
 * Collects a helper's JSON lines; `next(pred, ms)` resolves with the first (past or future) line matching `pred`.
 * @param {Proc} proc
 */
export const lineReader = (proc) => {
  /** @type {Array<any>} */
  const lines = []
  /** @type {Array<{ pred: (line: any) => boolean, resolve: (line: any) => void }>} */
  const waiters = []
  jsonLines(proc, (m) => {
    lines.push(m)
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  /**
   * @param {(line: any) => boolean} pred
   * @param {number} ms
   * @param {string} what
   * @returns {Promise<any>}
   */
  const wait = (pred, ms, what) =>
    new Promise((resolveLine, reject) => {
      const w = { pred, resolve: resolveLine }
      waiters.push(w)
      setTimeout(() => {
        const i = waiters.indexOf(w)
        if (i >= 0) {
          waiters.splice(i, 1)
          reject(new Error(`${proc.name}: no ${what} within ${ms} ms:\n${proc.output().slice(-2000)}`))
        }
      }, ms)
    })
  return {
    lines,
    /** @param {(line: any) => boolean} pred @param {number} ms */
    next: (pred, ms, what = "a line") => {
      const seen = lines.find(pred)
      if (seen) return Promise.resolve(seen)
      return wait(pred, ms, what)
    },
    /**
     * The next line matching `pred` from now on (not one already seen).
     * @param {(line: any) => boolean} pred @param {number} ms
     */
    after: (pred, ms, what = "a line") => {
      const from = lines.length
      return wait((m) => lines.indexOf(m) >= from && pred(m), ms, what)
    }
  }
}

/**
 * Waits for GET `url` to answer 2xx; fails at once, with the process's output, if `proc` exits meanwhile.
 * @param {Proc} proc
 * @param {string} url
 */
export const waitHealthy = (proc, url, timeoutMs = 120_000) =>
  eventually(
    async () => {
      if (!proc.alive()) throw new Error(`${proc.name} exited before answering ${url}:\n${proc.output().slice(-3000)}`)
      return httpOk(url)
    },
    timeoutMs,
    `${url} (${proc.name})`,
    200
  ).catch((e) => {
    throw new Error(`${e.message}\n--- ${proc.name} output ---\n${proc.output().slice(-3000)}`)
  })
