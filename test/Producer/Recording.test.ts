import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Logger, Stream } from "effect"
import { SourceConfig } from "../../src/Config.js"
import type { Market } from "../../src/Domain/Market.js"
import * as Sources from "../../src/Sources/Select.js"
import { isTick } from "../../src/Sources/Source.js"
import { startFakeVenue } from "../support/FakeVenue.js"

// RECORD_FRAMES through the wiring: a live venue source records its frames; SOURCE=replay:<dir> gives its trades back.

const quiet = Logger.remove(Logger.defaultLogger)
const market = "binance:BTC-USDT" as Market

describe("RECORD_FRAMES, then SOURCE=replay:<dir>", () => {
  it.live("the replay of a recording gives the live run's trades", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "frames-"))
      const fake = yield* Effect.promise(() => startFakeVenue({ venue: "binance", markets: [market] }))
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          await fake.close()
          rmSync(dir, { recursive: true, force: true })
        })
      )
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(SourceConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
      const live = yield* read({
        SOURCE: "binance",
        MARKETS: market,
        BINANCE_WS_URL: fake.wsUrl,
        BINANCE_REST_URL: fake.restUrl,
        RECORD_FRAMES: dir
      })
      const stream = yield* Sources.fromConfig(live)
      const running = yield* stream.pipe(Stream.filter(isTick), Stream.take(12), Stream.runCollect, Effect.fork)
      yield* Effect.promise(() => fake.subscribed(1))
      fake.send(market, 5)
      fake.gap(market, 3) // REST only: the fill's answer is recorded too
      fake.send(market, 4)
      const liveTicks = Chunk.toArray(yield* running.await.pipe(Effect.flatten))
      expect(liveTicks.map((t) => t.tradeId)).toEqual(Array.from({ length: 12 }, (_, i) => 1000 + i))
      // The stream's scope closed: the recorder wrote out every line.
      const lines = readFileSync(join(dir, "binance.jsonl"), "utf8").trim().split("\n")
      expect(lines.some((l) => l.includes('"kind":"rest"'))).toBe(true)

      const replay = yield* read({ SOURCE: `replay:${dir}`, MARKETS: market, REPLAY_SPEED: "max" })
      const replayed = yield* Sources.fromConfig(replay).pipe(
        Effect.flatMap((s) => Stream.runCollect(Stream.filter(s, isTick))),
        Effect.map(Chunk.toArray)
      )
      const view = (ts: ReadonlyArray<(typeof liveTicks)[number]>) =>
        ts.map((t) => [t.market, t.tradeId, t.price, t.volume, t.side, t.eventTime])
      expect(view(replayed)).toEqual(view(liveTicks))
    }).pipe(Effect.provide(quiet), Effect.scoped)
  )
})
