import { Either, Predicate } from "effect"
import type { Tick } from "../../Domain/Tick.js"
import { describeParseError, shorten } from "../../Text.js"
import { coinInfo, knownCoins } from "../Coins.js"
import { decodeTickFields } from "../Source.js"

/** Replay lines (NDJSON objects, CSV rows) → ticks labelled "replay", ingest time 0 (stamped when emitted). */

/** The CSV columns, as named in the header (matching ignores case and underscores). */
export const csvColumns = [
  "symbol",
  "coinId",
  "price",
  "eventTime",
  "volume",
  "volume24h",
  "marketCap",
  "change24h"
] as const
type Column = (typeof csvColumns)[number]

const nonBlank = (u: unknown): string | undefined =>
  typeof u === "string" && u.trim().length > 0 ? u.trim() : undefined
const bySymbol = new Map(knownCoins.map((c) => [c.symbol, c.id]))

const eventTimeOf = (u: unknown): unknown => {
  if (typeof u !== "string") return u
  const s = u.trim()
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s)
  const ms = Date.parse(s)
  return Number.isNaN(ms) ? u : ms
}

/** A row (parsed JSON or CSV cells) → a Tick with ingestTime 0, or why not. */
export const rowToTick = (row: Record<string, unknown>): Either.Either<Tick, string> => {
  const symbolIn = nonBlank(row["symbol"])?.toUpperCase()
  const coinIdIn = nonBlank(row["coinId"])
  if (symbolIn === undefined && coinIdIn === undefined) return Either.left("needs a symbol or a coinId")
  const symbol = symbolIn ?? coinInfo(coinIdIn!).symbol
  const coinId = coinIdIn ?? bySymbol.get(symbol) ?? symbol.toLowerCase()
  const optional = (name: "volume" | "volume24h" | "marketCap" | "change24h" | "market" | "tradeId" | "side") =>
    row[name] === undefined || row[name] === null ? {} : { [name]: row[name] }
  return Either.mapLeft(
    decodeTickFields({
      symbol,
      coinId,
      ...(row["price"] === undefined ? {} : { price: row["price"] }),
      ...optional("volume"),
      ...optional("volume24h"),
      ...optional("marketCap"),
      ...optional("change24h"),
      ...(row["eventTime"] === undefined ? {} : { eventTime: eventTimeOf(row["eventTime"]) }),
      source: "replay",
      ingestTime: 0,
      // a recorded trade keeps its market, trade id and side (docs/markets.md)
      ...optional("market"),
      ...optional("tradeId"),
      ...optional("side")
    }),
    (e) => describeParseError(e, 240)
  )
}

/** One NDJSON line → a Tick with ingestTime 0, or why not. */
export const parseNdjsonLine = (line: string): Either.Either<Tick, string> =>
  Either.try(() => JSON.parse(line) as unknown).pipe(
    Either.mapLeft(() => `not JSON: ${shorten(line, 60)}`),
    Either.flatMap((json) => (Predicate.isRecord(json) ? rowToTick(json) : Either.left("expected a JSON object")))
  )

/** One CSV line's cells: commas separate, double quotes may wrap a cell ("" is a quote inside). */
export const splitCsvLine = (line: string): Array<string> => {
  const cells: Array<string> = []
  let cell = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"'
        i++
      } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"' && cell.trim().length === 0) {
      quoted = true
      cell = ""
    } else if (c === ",") {
      cells.push(cell.trim())
      cell = ""
    } else cell += c
  }
  cells.push(cell.trim())
  return cells
}

const normalise = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "")
const columnByName = new Map<string, Column>(csvColumns.map((c) => [normalise(c), c]))

/** Reads a CSV header; the parser it returns turns one data line into a Tick or the reason it cannot. */
export const csvParser = (
  header: string
): Either.Either<
  { readonly parse: (line: string) => Either.Either<Tick, string>; readonly ignored: ReadonlyArray<string> },
  string
> => {
  const names = splitCsvLine(header)
  const columns = names.map((n) => columnByName.get(normalise(n)))
  const has = (c: Column) => columns.includes(c)
  const missing = [
    ...(has("price") ? [] : ["price"]),
    ...(has("eventTime") ? [] : ["eventTime"]),
    ...(has("symbol") || has("coinId") ? [] : ["symbol or coinId"])
  ]
  if (missing.length > 0) {
    return Either.left(
      `the CSV header "${shorten(header, 80)}" lacks ${missing.join(", ")} (columns: ${csvColumns.join(", ")})`
    )
  }
  const numeric = new Set<Column>(["price", "volume", "volume24h", "marketCap", "change24h"])
  const parse = (line: string): Either.Either<Tick, string> => {
    const cells = splitCsvLine(line)
    if (cells.length !== names.length) return Either.left(`expected ${names.length} cells, got ${cells.length}`)
    const row: Record<string, unknown> = {}
    columns.forEach((column, i) => {
      const cell = cells[i]!
      if (column === undefined || cell.length === 0) return
      const n = Number(cell)
      row[column] = numeric.has(column) && !Number.isNaN(n) ? n : cell
    })
    return rowToTick(row)
  }
  return Either.right({ parse, ignored: names.filter((_, i) => columns[i] === undefined) })
}
