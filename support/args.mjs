// @ts-check
// Command-line arguments of the benchmark harness.

/**
 * `--key value`, `--key=value`, `--flag`; numbers parsed; comma lists kept as strings (split by the scenario).
 * @param {ReadonlyArray<string>} argv
 */
export const parseArgs = (argv) => {
  /** @type {Array<string>} */
  const positional = []
  /** @type {Record<string, any>} */
  const options = {}
  for (let i = 0; i < argv.length; i++) {
    const a = /** @type {string} */ (argv[i])
    if (!a.startsWith("--")) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf("=")
    const key = (eq > 0 ? a.slice(2, eq) : a.slice(2)).replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    /** @type {string | boolean} */
    let value
    if (eq > 0) value = a.slice(eq + 1)
    else if (i + 1 < argv.length && !argv[i + 1]?.startsWith("--")) value = /** @type {string} */ (argv[++i])
    else value = true
    options[key] =
      typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value
  }
  return { positional, options }
}

/** @param {unknown} v a number or a comma list */
export const listOf = (v) =>
  typeof v === "number"
    ? [v]
    : String(v)
        .split(",")
        .map((s) => Number(s.trim()))
        .filter(Number.isFinite)
