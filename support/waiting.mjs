// @ts-check
// Waiting: for a while, for a probe to answer, for a URL to answer 2xx.

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const now = () => Date.now()

/**
 * Polls `probe` until it returns something other than undefined; fails after `timeoutMs` (a bound on waiting, not a
 * timing assertion).
 * @template A
 * @param {() => Promise<A | undefined> | A | undefined} probe
 * @param {number} timeoutMs
 * @param {string} what
 * @returns {Promise<A>}
 */
export const eventually = async (probe, timeoutMs, what, intervalMs = 100) => {
  const deadline = Date.now() + timeoutMs
  /** @type {any} */
  let lastError
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (e) {
      lastError = e
    }
    await sleep(intervalMs)
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message ?? lastError}` : ""}`
  )
}

/** @param {string} url */
export const httpOk = async (url) => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
    return res.ok ? true : undefined
  } catch {
    return undefined
  }
}
