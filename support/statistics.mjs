// @ts-check
// Rounding, ratios and percentiles for result files.

/**
 * @template T
 * @param {T} x
 * @returns {T}
 */
export const round = (x, digits = 1) =>
  typeof x === "number" && Number.isFinite(x) ? /** @type {T} */ (Number(x.toFixed(digits))) : x

/**
 * @param {number} a
 * @param {number} b
 */
export const ratio = (a, b, digits = 3) => (b > 0 && Number.isFinite(a) ? Number((a / b).toFixed(digits)) : null)

/**
 * Nearest-rank percentile of an unsorted numeric array (copied and sorted).
 * @param {ArrayLike<number> & Iterable<number>} values
 * @returns {Record<string, number>}
 */
export const percentiles = (values, qs = [50, 90, 99, 99.9]) => {
  if (values.length === 0) return { count: 0 }
  const sorted = Float64Array.from(values).sort()
  /** @param {number} q */
  const at = (q) =>
    /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))])
  /** @type {Record<string, number>} */
  const out = { count: sorted.length, min: /** @type {number} */ (sorted[0]) }
  for (const q of qs) out[`p${String(q).replace(".", "_")}`] = at(q)
  out["max"] = /** @type {number} */ (sorted[sorted.length - 1])
  out["mean"] = round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 2)
  return out
}

/**
 * Percentiles of an integer-millisecond histogram (index = ms, last slot = overflow).
 * @param {ArrayLike<number>} hist
 * @param {number} count
 * @param {number} max
 * @param {number} sum
 * @returns {Record<string, number>}
 */
export const histogramPercentiles = (hist, count, max, sum, qs = [50, 90, 99, 99.9]) => {
  if (count === 0) return { count: 0 }
  /** @type {Record<string, number>} */
  const out = { count }
  let seen = 0
  let qi = 0
  const targets = qs.map((q) => Math.max(1, Math.ceil((q / 100) * count)))
  for (let i = 0; i < hist.length && qi < qs.length; i++) {
    seen += /** @type {number} */ (hist[i])
    while (qi < qs.length && seen >= /** @type {number} */ (targets[qi])) {
      out[`p${String(qs[qi]).replace(".", "_")}`] = i === hist.length - 1 ? max : i
      qi++
    }
  }
  out["max"] = max
  out["mean"] = round(sum / count, 2)
  return out
}
