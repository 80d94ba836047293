import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Scope, Stream } from "effect"
import { marketParts } from "../../src/Domain/Market.js"
import type { FrameEvent } from "../../src/Venues/Connection.js"
import { plans } from "../../src/Venues/Protocol.js"
import {
  decodeLine,
  layer,
  makeRecorder,
  RecordingError,
  recordFrames,
  recordRest,
  recordWith
} from "../../src/Venues/Recording.js"
import { awaitFake, coinbaseBtc, connect, fakeVenue } from "./ConnectionSupport.js"

// The recording's lines decode with the one line schema, say what happened in order, and are all on disk once the
// recorder's scope has closed, not before (the test's flush interval is an hour).

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "recording-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)
const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => Either.getOrThrow(decodeLine(l)))
const hour = { flushEvery: "1 hour" } as const

describe("Recording", () => {
  it.scopedLive("a connection's events, then a REST answer: one line each, complete once the scope closes", () =>
    Effect.gen(function* () {
      const dir = join(yield* tempDir, "nested", "dir")
      const fake = yield* fakeVenue({ venue: "coinbase", markets: [coinbaseBtc] })
      const [plan] = plans("coinbase", [marketParts(coinbaseBtc)], fake.wsUrl)
      if (plan === undefined) throw new Error("no plan")
      const scope = yield* Scope.make()
      const recorder = yield* Scope.extend(makeRecorder(dir, hour), scope)
      const seen: Array<FrameEvent> = []
      const recorded = recordWith(recorder, "coinbase")(Stream.fromIterable(seen))
      const conn = yield* connect({ ...plan, venue: "t-record", backoff: { base: "10 millis", cap: "20 millis" } })
      yield* awaitFake(() => fake.subscribed(), "subscription")
      fake.send(coinbaseBtc, 3)
      fake.raw('line one\nline "two" ✓')
      fake.disconnect()
      seen.push(...(yield* conn.until("Closed")).seen)
      yield* Stream.runDrain(recorded)
      yield* recorder.write("coinbase", {
        at: 5,
        kind: "rest",
        text: "[]",
        url: "/products/BTC-USD/trades",
        status: 200
      })
      const file = join(dir, "coinbase.jsonl")
      expect(existsSync(file) ? readFileSync(file, "utf8") : "").toBe("")
      yield* Scope.close(scope, Exit.void)
      const got = lines(file)
      expect(got.map((l) => l.kind)).toEqual(["open", "frame", "frame", "frame", "frame", "frame", "closed", "rest"])
      expect(got[0]).toEqual({ at: seen[0]?.at, kind: "open", text: "", url: fake.wsUrl })
      expect(got.slice(1, 6).map((l) => l.text)).toEqual(seen.flatMap((e) => (e._tag === "Frame" ? [e.text] : [])))
      expect(got[5]?.text).toBe('line one\nline "two" ✓')
      expect(got[6]?.text).toBe(seen[6]?._tag === "Closed" ? seen[6].reason : "?")
      expect(got[7]).toEqual({ at: 5, kind: "rest", text: "[]", url: "/products/BTC-USD/trades", status: 200 })
    })
  )

  it.scoped("through the Recording layer: recordFrames and recordRest write, and do nothing without it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const events: Array<FrameEvent> = [
        { _tag: "Open", at: 1, connection: 1, url: "ws://x" },
        { _tag: "Frame", at: 2, text: "{}" },
        { _tag: "Closed", at: 3, reason: "stale" }
      ]
      const run = Effect.gen(function* () {
        const out = yield* Stream.runCollect(recordFrames("kraken")(Stream.fromIterable(events)))
        yield* recordRest("kraken", "/0/public/Trades?pair=XBTUSD", 429, "slow down", 4)
        return [...out]
      })
      expect(yield* run).toEqual(events)
      expect(yield* Effect.provide(run, layer(dir, hour))).toEqual(events)
      expect(lines(join(dir, "kraken.jsonl"))).toEqual([
        { at: 1, kind: "open", text: "", url: "ws://x" },
        { at: 2, kind: "frame", text: "{}" },
        { at: 3, kind: "closed", text: "stale" },
        { at: 4, kind: "rest", text: "slow down", url: "/0/public/Trades?pair=XBTUSD", status: 429 }
      ])
      // Appends: a second run adds its lines after the first's.
      yield* Effect.provide(run, Layer.fresh(layer(dir, hour)))
      expect(lines(join(dir, "kraken.jsonl")).length).toBe(8)
    })
  )

  it.scoped("a full buffer is written out before the scope ends; a directory that cannot be made is an error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const recorder = yield* makeRecorder(dir, { ...hour, maxBuffered: 100 })
      for (let i = 0; i < 10; i++) yield* recorder.write("binance", { at: i, kind: "frame", text: "x".repeat(20) })
      expect(lines(join(dir, "binance.jsonl")).length).toBeGreaterThanOrEqual(8)
      writeFileSync(join(dir, "file"), "")
      const failed = yield* Effect.flip(Effect.scoped(makeRecorder(join(dir, "file", "sub"))))
      expect(failed).toBeInstanceOf(RecordingError)
      expect(failed.message).toMatch(/^cannot record into .*file\/sub/)
    })
  )

  it("the line schema refuses what is not a line, saying why", () => {
    expect(Either.isRight(decodeLine('{"at":1,"kind":"frame","text":"x"}'))).toBe(true)
    for (const bad of ["", "{", '{"at":1,"kind":"ws","text":"x"}', '{"at":-1,"kind":"frame","text":"x"}', '{"at":1}'])
      expect(Either.isLeft(decodeLine(bad))).toBe(true)
    expect(Either.getLeft(decodeLine('{"at":1,"kind":"rest","text":"","status":7}')).pipe((o) => o._tag)).toBe("Some")
  })
})
