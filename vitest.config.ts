import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One file at a time: the suites share the real Kafka, Redis and Postgres that scripts/test.sh starts, and some
    // stop or kill them (outage tests), which would break any file running alongside.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
