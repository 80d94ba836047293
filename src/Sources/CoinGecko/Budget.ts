import { Duration, Effect, Option } from "effect"
import { thousands } from "../../Text.js"
import type { Options } from "../CoinGecko.js"

/** What the configured polling costs against the plan's monthly call budget, said once at start. */

const monthMillis = 30 * 24 * 3600 * 1000

/** Calls per 30-day month one call every `interval` makes: 30 seconds → 86,400. */
export const monthlyCalls = (interval: Duration.DurationInput): number =>
  Math.ceil(monthMillis / Duration.toMillis(interval))

export const logCallVolume = (options: Options) =>
  Effect.gen(function* () {
    const calls = monthlyCalls(options.pollInterval)
    const budget = options.monthlyBudget ?? 10_000
    const keyed = Option.isSome(options.apiKey)
    const coins = `${options.coins.length} ${options.coins.length === 1 ? "coin" : "coins"}`
    const line =
      `coingecko: one /simple/price call every ${Duration.format(options.pollInterval)} for ${coins} ` +
      `= ${thousands(calls)} calls/month (30 days), ${options.plan} plan${keyed ? "" : ", keyless"}, ${options.baseUrl}`
    if (options.plan === "demo" && calls > budget) {
      const days = (30 * budget) / calls
      const slowest = Duration.seconds(Math.ceil(monthMillis / 1000 / budget))
      yield* Effect.logWarning(
        `${line}: more than the demo plan's ${thousands(budget)} calls/month budget, which it would use up in about ` +
          `${days.toFixed(1)} days${keyed ? "" : " once a demo key is set (keyless calls share a per-IP rate limit instead)"}; ` +
          `POLL_INTERVAL=${Duration.format(slowest)} or slower stays within it (COINGECKO_MONTHLY_BUDGET sets the budget)`
      )
    } else {
      yield* Effect.logInfo(line)
    }
    if (Duration.toMillis(options.pollInterval) < 60_000) {
      yield* Effect.logInfo(
        "coingecko: /simple/price answers are cached (60 s on the public API, 20 s on pro): " +
          "a quote whose last_updated_at did not advance is not published again"
      )
    }
  })
