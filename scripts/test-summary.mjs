// Prints vitest's JSON report (scripts/test.sh writes it) as one plain closing line: "tests: N passed, N failed, N skipped".
// No report (vitest did not run, or the run stopped before it) prints nothing: a missing count is not a zero.
import { existsSync, readFileSync } from "node:fs"

// Several reports (scripts/test.sh's lanes) print their sum; one that is missing prints nothing, as above.
const files = process.argv.slice(2)
if (files.length > 0 && files.every((f) => existsSync(f))) {
  const n = { passed: 0, failed: 0, skipped: 0 }
  for (const file of files) {
    const r = JSON.parse(readFileSync(file, "utf8"))
    n.passed += r.numPassedTests ?? 0
    n.failed += r.numFailedTests ?? 0
    n.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  }
  console.log(`tests: ${n.passed} passed, ${n.failed} failed, ${n.skipped} skipped`)
}
