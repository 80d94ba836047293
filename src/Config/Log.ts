import { Config, ConfigError, Either, LogLevel } from "effect"

/** LOG_LEVEL in any case: trace, debug, info, warning (or warn), error, fatal, all, none. */
const level = Config.string("LOG_LEVEL").pipe(
  Config.mapOrFail((raw) => {
    const aliases: Record<string, string> = { warning: "warn", none: "off" }
    const name = raw.trim().toLowerCase()
    const level = LogLevel.allLevels.find((l) => l.label.toLowerCase() === (aliases[name] ?? name))
    return level === undefined
      ? Either.left(
          ConfigError.InvalidData(
            [],
            `expected one of trace, debug, info, warning, error, fatal, all, none, got "${raw}"`
          )
        )
      : Either.right(level)
  }),
  Config.withDefault(LogLevel.Info)
)

/** Readable lines on a terminal, one JSON object per line otherwise (for log shippers); LOG_FORMAT overrides. */
const terminalFormat = process.stderr.isTTY ? ("pretty" as const) : ("json" as const)
const format = Config.literal("pretty", "json")("LOG_FORMAT").pipe(Config.withDefault(terminalFormat))

export const LogConfig = Config.all({ level, format })
export type LogConfig = Config.Config.Success<typeof LogConfig>

/** When the configuration cannot be read: Info, in the format the terminal suggests. */
export const defaultLog: LogConfig = { level: LogLevel.Info, format: terminalFormat }
