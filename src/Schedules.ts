import { Duration, Schedule } from "effect"

/**
 * While a dependency is away (the bus, Postgres, the DLQ): 200 ms doubling (or `max`, if that is shorter), jittered,
 * at most `max` apart. Forever: nothing is lost meanwhile, so there is no reason to give up.
 */
export const untilBack = (max: Duration.DurationInput) => {
  const longest = Duration.decode(max)
  return Schedule.exponential(Duration.min(Duration.millis(200), longest)).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(longest))
  )
}

/** Publishing while the bus is away: `untilBack` at most 10 s apart. */
export const publishRetry = untilBack("10 seconds")

/** A Postgres server that is not up yet at start-up: 250 ms doubling, jittered, at most 5 s apart, for 2 minutes. */
export const databaseStartup = Schedule.exponential("250 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.upTo("2 minutes")
)

/** The live feed's cache subscription, lost: 250 ms doubling, at most 5 s apart; forever. */
export const resubscribe = Schedule.exponential("250 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))
