// @ts-check
// Where things are: the repository, the benchmark harness and its result files.
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const benchDir = join(repoRoot, "bench")
export const resultsDir = join(benchDir, "results")
