// @ts-check
// Progress on stderr, results on stdout and in bench/results.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { resultsDir } from "./paths.mjs"

/**
 * Progress goes to stderr; stdout carries exactly one JSON line per scenario.
 * @param {ReadonlyArray<unknown>} parts
 */
export const log = (...parts) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${parts.join(" ")}\n`)

/**
 * @param {string} scenario
 * @param {unknown} result
 */
export const writeResult = (scenario, result) => {
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${scenario}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  log(`wrote ${file}`)
  return file
}
