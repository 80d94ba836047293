import { Config, ConfigError, Duration, Either, Option } from "effect"

/**
 * What TimescaleDB does with old ticks (src/Sql/Timescale.ts): drop them (retention) and compress them, each after an
 * age judged by EVENT time, not by when the row was written. `none` is `off`. Plain Postgres and PGlite ignore both.
 */
export interface TickStorage {
  readonly retention: Option.Option<Duration.Duration>
  readonly compressAfter: Option.Option<Duration.Duration>
}

export const defaultTickStorage: TickStorage = {
  retention: Option.some(Duration.days(90)),
  compressAfter: Option.some(Duration.days(7))
}

/** `off` (or none, 0), or a positive duration such as "90 days". */
export const parseAge = (raw: string): Either.Either<Option.Option<Duration.Duration>, string> => {
  const value = raw.trim().toLowerCase()
  if (value === "off" || value === "none" || value === "0") return Either.right(Option.none())
  const decoded = Duration.decodeUnknown(value)
  if (Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0 && Duration.isFinite(decoded.value)) {
    return Either.right(decoded)
  }
  return Either.left(`expected a duration such as "90 days", or off, got "${raw}"`)
}

const age = (name: string, fallback: Option.Option<Duration.Duration>) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => Either.mapLeft(parseAge(raw), (m) => ConfigError.InvalidData([], m))),
    Config.withDefault(fallback)
  )

export const TickStorageConfig = Config.all({
  retention: age("TICK_RETENTION", defaultTickStorage.retention),
  compressAfter: age("TICK_COMPRESSION_AFTER", defaultTickStorage.compressAfter)
})

/** Whole days, for messages ("90 days"; "36 hours" below a day). */
export const describeAge = (d: Duration.Duration): string => {
  const hours = Duration.toHours(d)
  return hours >= 24 && hours % 24 === 0 ? `${hours / 24} days` : `${Math.round(hours * 100) / 100} hours`
}

/**
 * `backfill --days` reaching past the retention: the points older than it are written and then dropped by the next
 * retention run (their candles stay). None when retention is off or the history is younger.
 */
export const retentionWarning = (days: number, retention: Option.Option<Duration.Duration>): Option.Option<string> =>
  Option.flatMap(retention, (keep) =>
    Duration.toMillis(Duration.days(days)) <= Duration.toMillis(keep)
      ? Option.none()
      : Option.some(
          `backfill: --days ${days} reaches past TICK_RETENTION (${describeAge(keep)}): on TimescaleDB the retention ` +
            `policy drops ticks whose EVENT time is older than that, so about ${Math.round(
              (100 * (Duration.toMillis(Duration.days(days)) - Duration.toMillis(keep))) /
                Duration.toMillis(Duration.days(days))
            )}% of this history's ticks are deleted soon after they are stored (their candles stay). ` +
            `To keep them, set TICK_RETENTION=off or a longer age where the migrations run (migrate, service, processor, api).`
        )
  )
