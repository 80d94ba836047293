// How numbers, times and sources read on the page.

const SOURCE_LABELS = {
  simulator: "simulated",
  coingecko: "CoinGecko",
  replay: "replay",
  binance: "Binance",
  coinbase: "Coinbase",
  kraken: "Kraken"
}
const VENUE_LABELS = {
  simulator: "Simulator",
  coingecko: "CoinGecko",
  binance: "Binance",
  coinbase: "Coinbase",
  kraken: "Kraken"
}

const formats = new Map()
/** An en-US number format with min..max decimals, made once per pair. */
export const nf = (min, max) => {
  const key = `${min}:${max}`
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat("en-US", { minimumFractionDigits: min, maximumFractionDigits: max }))
  }
  return formats.get(key)
}

const priceDecimals = (p) => {
  const a = Math.abs(p)
  if (a >= 1000) return 2
  if (a >= 1) return 4
  if (a === 0) return 2
  // keep four significant digits for small prices (0.3842, 0.00002145)
  return Math.min(12, Math.max(4, 3 - Math.floor(Math.log10(a))))
}

export const fmtPrice = (p) => {
  if (typeof p !== "number" || !Number.isFinite(p)) return "—"
  const d = priceDecimals(p)
  return nf(d, d).format(p)
}

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 })
export const fmtCompact = (v) => (typeof v === "number" && Number.isFinite(v) ? compact.format(v) : "—")

/** The sign (and colour) of a change as shown, i.e. rounded to 2 decimals: −0.004 % reads "0.00%", not "−0.00%". */
export const changeDir = (c) => {
  const r = Math.round(c * 100)
  return r > 0 ? "up" : r < 0 ? "down" : "flat"
}

export const fmtChange = (c) => {
  if (typeof c !== "number" || !Number.isFinite(c)) return "—"
  const s = `${nf(2, 2).format(Math.abs(c))}%`
  const dir = changeDir(c)
  return dir === "up" ? `+${s}` : dir === "down" ? `\u2212${s}` : s
}

export const fmtAge = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s ago`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ago`
  return `${Math.floor(h / 24)} d ago`
}

export const fmtTime = (ms) => {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString()
}

/** A candle's bucket start (seconds) as its tooltip and readout show it. */
export const fmtBucket = (sec, interval) => {
  const date = new Date(sec * 1000)
  return interval === "1d"
    ? date.toLocaleDateString()
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
}

/**
 * The trade tape's formats for a market, fixed from one reference price so the columns line up: prices with the
 * decimals the price's magnitude needs, sizes with three significant digits of a trade worth about 100 in the quote.
 */
export const tapeFormats = (refPrice) => {
  const ok = isFinitePositive(refPrice)
  const pd = ok ? priceDecimals(refPrice) : 2
  const sd = ok ? Math.min(8, Math.max(0, 2 - Math.floor(Math.log10(100 / refPrice)))) : 4
  const pf = nf(pd, pd)
  const sf = nf(sd, sd)
  return {
    price: (p) => (Number.isFinite(p) ? pf.format(p) : "—"),
    size: (v) => (typeof v === "number" && Number.isFinite(v) ? sf.format(v) : "—")
  }
}
const isFinitePositive = (v) => typeof v === "number" && Number.isFinite(v) && v > 0

const pad = (n, w = 2) => String(n).padStart(w, "0")
/** A trade's time of day, local, to the millisecond (many trades share a second). */
export const fmtClock = (ms) => {
  const d = new Date(ms)
  if (Number.isNaN(d.getTime())) return ""
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}

export const venueLabel = (venue) => (Object.hasOwn(VENUE_LABELS, venue) ? VENUE_LABELS[venue] : venue)

export const knownSource = (src) => typeof src === "string" && Object.hasOwn(SOURCE_LABELS, src)
export const sourceLabel = (src) => (knownSource(src) ? SOURCE_LABELS[src] : "unknown")
