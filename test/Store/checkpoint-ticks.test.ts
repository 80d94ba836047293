import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Market } from "../../src/Domain/Market.js"
import { Tick } from "../../src/Domain/Tick.js"
import * as Store from "../../src/Store/Store.js"
import { type Rig, startRig } from "../Http/api-rig.js"

// The checkpoint transaction's ticks and fence on the embedded Postgres: the tick columns go as array literals built by
// the store (not by the driver), so every kind of value is read back here as it was given; and one UPDATE fences all
// partitions of a batch, refusing those with a newer epoch.

const t0 = Date.UTC(2026, 0, 10, 12, 0, 0)

const ticks = [
  // every optional field, a coin id with the characters an array literal must escape
  new Tick({
    symbol: "BTC",
    coinId: 'bit"coin\\x,{y} NULL',
    price: 0.1 + 0.2,
    volume: 1e-7,
    volume24h: 123456789.125,
    marketCap: 0,
    change24h: -3.5,
    eventTime: t0 + 1,
    source: "binance",
    ingestTime: t0 + 2,
    market: "binance:BTC-USDT" as Market,
    tradeId: 9_007_199_254_740_991,
    side: "sell"
  }),
  // none of them: a sample whose market comes from its source
  new Tick({ symbol: "ETH", coinId: "NULL", price: 5e21, eventTime: 0, source: "replay", ingestTime: 999 }),
  new Tick({ symbol: "SOL", coinId: "solana", price: 1, eventTime: t0, source: "simulator", ingestTime: t0 + 1 })
]

const rows = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`SELECT market, symbol, coin_id, source, (extract(epoch FROM event_time) * 1000)::float8 AS event_time,
    price, volume, volume_24h, market_cap, change_24h, (extract(epoch FROM ingest_time) * 1000)::float8 AS ingest_time,
    trade_id::text, side FROM ticks ORDER BY symbol`
)
const offsets = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`SELECT partition, next_offset::int AS next_offset, state FROM processor_checkpoints ORDER BY partition`
)

let rig: Rig
beforeAll(async () => {
  rig = await startRig(t0)
}, 120_000)
afterAll(() => rig.close())

const part = (partition: number, epoch: number, nextOffset: number, tickList: ReadonlyArray<Tick>) => ({
  partition,
  epoch,
  nextOffset,
  state: JSON.stringify({ partition, note: 'a "quoted" \\ state' }),
  ticks: tickList,
  candles: [],
  deadLetters: [],
  gaps: [],
  checks: []
})

describe("checkpoint: ticks and fence", () => {
  it("stores every tick value as given, and fences only the partitions with a newer owner", async () => {
    const claims = await rig.run(Effect.flatMap(Store.Store, (store) => store.claim("prices", [0, 1], "test")))
    const epoch = (p: number) => claims.get(p)!.epoch
    const commit = (partitions: ReadonlyArray<Store.PartitionCheckpoint>) =>
      Effect.flatMap(Store.Store, (store) => store.commit({ topic: "prices", owner: "test", partitions }))
    await rig.run(commit([part(0, epoch(0), 2, ticks.slice(0, 2)), part(1, epoch(1), 1, ticks.slice(2))]))

    expect(await rig.run(rows)).toEqual([
      {
        market: "binance:BTC-USDT",
        symbol: "BTC",
        coinId: 'bit"coin\\x,{y} NULL',
        source: "binance",
        eventTime: t0 + 1,
        price: 0.1 + 0.2,
        volume: 1e-7,
        volume24h: 123456789.125,
        marketCap: 0,
        change24h: -3.5,
        ingestTime: t0 + 2,
        tradeId: "9007199254740991",
        side: "sell"
      },
      {
        market: "coingecko:ETH-USD",
        symbol: "ETH",
        coinId: "NULL",
        source: "replay",
        eventTime: 0,
        price: 5e21,
        volume: null,
        volume24h: null,
        marketCap: null,
        change24h: null,
        ingestTime: 999,
        tradeId: "-1",
        side: null
      },
      expect.objectContaining({ symbol: "SOL", market: "simulator:SOL-USD", eventTime: t0, ingestTime: t0 + 1 })
    ])
    const states = (await rig.run(offsets)).map((r) => ({ ...r, state: r.state }))
    expect(states).toEqual([
      { partition: 0, nextOffset: 2, state: { partition: 0, note: 'a "quoted" \\ state' } },
      { partition: 1, nextOffset: 1, state: { partition: 1, note: 'a "quoted" \\ state' } }
    ])

    // Partition 1 is claimed again elsewhere: a commit of both is refused for 1 alone, and writes nothing.
    await rig.run(Effect.flatMap(Store.Store, (store) => store.claim("prices", [1], "other")))
    const refused = await rig.run(Effect.flip(commit([part(0, epoch(0), 3, []), part(1, epoch(1), 2, [])])))
    expect(refused).toMatchObject({ _tag: "Fenced", partitions: [1] })
    expect((await rig.run(offsets)).map((r) => r.nextOffset)).toEqual([2, 1])
  })

  it("stores event times after year 9999 too (sent as dates, not ISO text)", async () => {
    const far = Date.UTC(20000, 0, 1, 0, 0, 0, 7)
    const tick = new Tick({
      symbol: "FAR",
      coinId: "far",
      price: 2,
      eventTime: far,
      source: "simulator",
      ingestTime: 1
    })
    const epoch = (await rig.run(Effect.flatMap(Store.Store, (store) => store.claim("far", [0], "test")))).get(0)!.epoch
    await rig.run(
      Effect.flatMap(Store.Store, (store) =>
        store.commit({ topic: "far", owner: "test", partitions: [part(0, epoch, 1, [tick])] })
      )
    )
    const [row] = (await rig.run(rows)).filter((r) => r.symbol === "FAR")
    expect(row).toMatchObject({ eventTime: far, ingestTime: 1 })
  })
})
