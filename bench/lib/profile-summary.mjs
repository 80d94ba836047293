#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `npm run bench -- <scenario> --profile`, i.e. node --cpu-prof on the app):
// self time by package / area, the top functions by self time, and inclusive time of the top app/library frames.
//
//   node bench/lib/profile-summary.mjs bench/results/profiles/<file>.cpuprofile [--top 25] [--json]
import { readFileSync } from "node:fs"

const file = process.argv[2]
if (!file) {
  process.stderr.write("usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [--top N] [--json]\n")
  process.exit(2)
}
const top = Number(process.argv[process.argv.indexOf("--top") + 1]) || 25
const asJson = process.argv.includes("--json")
const profile = JSON.parse(readFileSync(file, "utf8"))

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const area = (cf) => {
  const url = cf.url ?? ""
  if (cf.functionName === "(garbage collector)") return "(garbage collector)"
  if (cf.functionName === "(idle)") return "(idle)"
  if (cf.functionName === "(program)") return "(program: native, not attributed)"
  if (url === "") return "(native / builtin)"
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (nm && nm[1] === "effect") {
    const f = url.replace(/^.*\/effect\/dist\/esm\//, "")
    if (/^(Schema|ParseResult|SchemaAST|Predicate|internal\/schema\/)/.test(f)) return "effect: Schema (decode/encode)"
    if (/(channel|stream|Stream|sink|take|pubsub|queue)/i.test(f)) return "effect: Stream/Channel/Queue/PubSub"
    return "effect: fiber runtime and core"
  }
  if (nm) return nm[1]
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`
  const dist = url.match(/\/dist\/(.+?)\.js$/)
  if (dist) return `app: ${dist[1].split("/").slice(0, 2).join("/")}`
  return url.replace(/^file:\/\//, "")
}
// Frames of the runtime, not of the program: Effect's scheduler and Node's timers and streams.
const runtimeFrame = new RegExp(
  " effect/dist/|^(runMicrotasks|processTicksAndRejections|listOnTimeout|processTimers|emit|addChunk|onStreamRead|" +
    "readableAddChunk|Readable\\.push) "
)

const fname = (cf) =>
  `${cf.functionName || "(anonymous)"} ` +
  `${(cf.url ?? "").replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/dist\//, "dist/")}:${cf.lineNumber + 1}`

// Time per sample: timeDeltas[i] belongs to samples[i].
const self = new Map()
const selfArea = new Map()
const inclusive = new Map()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  if (dt <= 0) continue
  total += dt
  const leaf = byId.get(profile.samples[i])
  const key = fname(leaf.callFrame)
  self.set(key, (self.get(key) ?? 0) + dt)
  const a = area(leaf.callFrame)
  selfArea.set(a, (selfArea.get(a) ?? 0) + dt)
  const seen = new Set()
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const k = fname(byId.get(id).callFrame)
    if (seen.has(k)) continue
    seen.add(k)
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt)
  }
}

const ms = (us) => Math.round(us / 1000)
const busy = total - (selfArea.get("(idle)") ?? 0)
// Percentages are of the busy (non-idle) time.
const pct = (us) => Number(((100 * us) / busy).toFixed(1))
const sorted = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => ({ name: k, ms: ms(v), percent: pct(v) }))
const summary = {
  file,
  totalMs: ms(total),
  busyMs: ms(busy),
  busyPercentOfWall: Number(((100 * busy) / total).toFixed(1)),
  selfByArea: sorted(new Map([...selfArea].filter(([k]) => k !== "(idle)")), 30),
  topSelf: sorted(new Map([...self].filter(([k]) => !k.startsWith("(idle)"))), top),
  topInclusive: sorted(
    new Map(
      [...inclusive].filter(
        ([k]) =>
          !k.startsWith("(root)") && !k.startsWith("(program)") && !k.startsWith("(idle)") && !runtimeFrame.test(k)
      )
    ),
    top
  )
}
if (asJson) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
else {
  const line = (r) => `${String(r.ms).padStart(8)} ms ${String(r.percent).padStart(5)} %  ${r.name}`
  process.stdout.write(
    `${file}\n${summary.totalMs} ms sampled, busy ${summary.busyMs} ms (${summary.busyPercentOfWall} % of the ` +
      `wall); percentages below are of the busy time\n\nself time by area:\n`
  )
  process.stdout.write(
    `${summary.selfByArea.map(line).join("\n")}\n\ntop self:\n${summary.topSelf.map(line).join("\n")}\n\ntop ` +
      `inclusive:\n${summary.topInclusive.map(line).join("\n")}\n`
  )
}
