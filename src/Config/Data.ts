import { Config, Option } from "effect"

/**
 * Where the embedded adapters keep their data: `DATA_DIR` (default `./data`), or `memory` for nothing on disk (each
 * start begins afresh). The embedded log keeps each partition's records for `LOG_RETENTION_HOURS` and at most about
 * `LOG_RETENTION_BYTES` (per partition, as Kafka's retention.bytes), deleting whole old segments only.
 */
export const DataConfig = Config.all({
  dataDir: Config.string("DATA_DIR").pipe(
    Config.withDefault("./data"),
    Config.map((raw) => raw.trim()),
    Config.validate({ message: 'expected a directory, or "memory"', validation: (s) => s.length > 0 }),
    Config.map((s) => (s.toLowerCase() === "memory" ? Option.none<string>() : Option.some(s)))
  ),
  retentionHours: Config.number("LOG_RETENTION_HOURS").pipe(
    Config.validate({ message: "expected a positive number of hours", validation: (n) => n > 0 }),
    Config.withDefault(168)
  ),
  retentionBytes: Config.number("LOG_RETENTION_BYTES").pipe(
    Config.validate({
      message: "expected a whole number of bytes, at least 1048576 (1 MiB)",
      validation: (n) => Number.isSafeInteger(n) && n >= 1_048_576
    }),
    Config.withDefault(2 ** 30)
  )
})
export type DataConfig = Config.Config.Success<typeof DataConfig>
