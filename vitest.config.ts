import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One file at a time: the suites share the real Kafka, Redis and Postgres that scripts/test.sh starts, and some
    // stop or kill them (outage tests), which would break any file running alongside. A whole `npm test` runs the
    // files that use none of them in a second vitest beside the first (scripts/test.sh: lanes).
    fileParallelism: false,
    testTimeout: 30_000,
    // Set-ups start built services (an embedded one can take a minute on a loaded machine): a bound, not a timing.
    hookTimeout: 180_000
  }
})
