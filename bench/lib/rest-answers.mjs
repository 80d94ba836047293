// Before anything is timed, every server answers the same: a server that answered less, or wrong, would make the
// comparison meaningless. The bare baseline: the same bytes (asOf, each server's clock, aside). FastAPI: the same
// JSON values (Python writes a whole float as 100.0 where JavaScript writes 100; the parsed values are equal).
import { endpoints, expectedItems } from "./rest-seed.mjs"

const withoutClock = (body) => body.replace(/"asOf":\d+(\.0)?/, '"asOf":0')

/** Fetches each endpoint of one server: status, bytes, items and body. */
export const answers = async (port) => {
  const out = {}
  for (const [endpoint, path] of Object.entries(endpoints)) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    const body = await res.text()
    let json
    try {
      json = JSON.parse(body)
    } catch {
      json = {}
    }
    out[endpoint] = {
      status: res.status,
      bytes: Buffer.byteLength(body),
      items: (json.prices ?? json.candles ?? []).length,
      body
    }
  }
  return out
}

const firstDifference = (x, y) => {
  const at = [...x].findIndex((c, i) => c !== y[i])
  return at < 0 ? Math.min(x.length, y.length) : at
}

/** Where two JSON values differ (a path), or undefined when they are equal. */
const valueDifference = (a, b, path = "$") => {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null))
    return `${path}: ${JSON.stringify(a)?.slice(0, 80)} vs ${JSON.stringify(b)?.slice(0, 80)}`
  if (typeof a !== "object" || a === null) return a === b ? undefined : `${path}: ${a} vs ${b}`
  const keys = Array.isArray(a) ? [...a.keys(), ...b.keys()] : [...Object.keys(a), ...Object.keys(b)]
  for (const k of new Set(keys)) {
    const d = valueDifference(a[k], b[k], `${path}.${k}`)
    if (d !== undefined) return d
  }
  return undefined
}

/**
 * `server` answers `endpoint` as the api does: 200 with every seeded item, and the same bytes (`bytes: true`) or the
 * same JSON values, asOf aside.
 */
export const sameAnswer = (endpoint, server, api, other, { bytes }) => {
  const [a, b] = [api[endpoint], other[endpoint]]
  const [x, y] = [withoutClock(a.body), withoutClock(b.body)]
  const want = expectedItems[endpoint]
  let why
  if (a.status !== 200 || b.status !== 200) why = `status ${a.status} / ${b.status}`
  else if (a.items !== want || b.items !== want) why = `${a.items} / ${b.items} items, seeded ${want}`
  else if (bytes && x !== y) {
    const at = firstDifference(x, y)
    const around = (t) => t.slice(Math.max(0, at - 40), at + 60)
    why = `bodies differ at byte ${at}: api …${around(x)}… ${server} …${around(y)}…`
  } else if (!bytes) why = valueDifference(JSON.parse(x), JSON.parse(y))
  return {
    check:
      `${endpoints[endpoint]}: api and ${server} answer the same ${bytes ? "bytes" : "JSON values"} (asOf aside), ` +
      `${want} items`,
    ok: why === undefined,
    why
  }
}
