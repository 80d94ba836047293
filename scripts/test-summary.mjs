// Prints vitest's JSON report (scripts/test.sh writes it) as one plain closing line: "tests: N passed, N failed, N skipped".
// No report (vitest did not run, or the run stopped before it) prints nothing: a missing count is not a zero.
import { existsSync, readFileSync } from "node:fs"

const file = process.argv[2]
if (file && existsSync(file)) {
  const r = JSON.parse(readFileSync(file, "utf8"))
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`)
}
