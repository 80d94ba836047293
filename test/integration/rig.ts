import { Tick } from "../../src/Domain/Tick.js"
import { createTopic, readTopic } from "../../support/kafka.mjs"
import { createDatabase, query, unique } from "../../support/services.mjs"
import { sleep } from "../../support/waiting.mjs"
import { type Running, startCli } from "../e2e/support.js"
import { encode, services } from "./support.js"

/** A fresh topic and database, and `node dist/main.js processor` on them (as many as a test starts). */
export const rig = async (name: string, partitions = 3, extra: Record<string, string> = {}) => {
  const env = services()
  const topic = unique(name)
  const databaseUrl = await createDatabase(env.databaseUrl, unique(name))
  await createTopic(env.kafkaBrokers, topic, partitions)
  const base: Record<string, string> = {
    KAFKA_BROKERS: env.kafkaBrokers,
    REDIS_URL: env.redisUrl,
    DATABASE_URL: databaseUrl,
    KAFKA_TOPIC: topic,
    KAFKA_PARTITIONS: String(partitions),
    KAFKA_GROUP_ID: unique("g"),
    BATCH_SIZE: "20",
    CHECKPOINT_INTERVAL: "300 millis",
    ...extra
  }
  const running: Array<Running> = []
  const start = async (more: Record<string, string> = {}) => {
    const r = await startCli(["processor"], { ...base, ...more })
    running.push(r)
    return r
  }
  const stored = async () => Number((await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM ticks"))[0]!.n)
  const cleanup = async () => {
    for (const r of running) if (r.child.exitCode === null) await r.stop("SIGKILL")
  }
  return { ...env, topic, databaseUrl, base, start, stored, running, cleanup }
}
export type Rig = Awaited<ReturnType<typeof rig>>

/** A record that must end in the DLQ with `reason` (its value is unique, so it can be found in the topic). */
export interface Poison {
  readonly key: string
  readonly value: string
  readonly reason: "decode" | "late"
}

/**
 * Bad records to publish after `ticks` (in the same send): two undecodable ones, and per symbol a tick an hour
 * behind the newest one of that symbol in `ticks` (late: the same partition reads it after them).
 */
export const poison = (tag: string, ticks: ReadonlyArray<Tick>): Array<Poison> => {
  const newest = new Map<string, Tick>()
  for (const t of ticks) if ((newest.get(t.symbol)?.eventTime ?? -1) < t.eventTime) newest.set(t.symbol, t)
  const late = [...newest.values()].map(
    (t): Poison => ({
      key: t.symbol,
      value: encode(new Tick({ ...t, eventTime: t.eventTime - 3_600_000, price: t.price + 1 })),
      reason: "late"
    })
  )
  return [
    { key: "BTC", value: `{not json ${tag}`, reason: "decode" },
    { key: "ETH", value: JSON.stringify({ symbol: "ETH", price: -5, tag }), reason: "decode" },
    ...late
  ]
}

/**
 * Each poison record in the DLQ topic (at least once: a crash before the checkpoint re-sends) with its reason, and in
 * Postgres's `dead_letters` exactly once; nothing else in either. A list of differences, empty when they agree.
 */
export const deadLetterDifferences = async (r: Rig, expected: ReadonlyArray<Poison>, input?: Input) => {
  const where = input ?? (await inputOf(r))
  const letters = (await readTopic(r.kafkaBrokers, `${r.topic}.dlq`)).map(
    (m) => JSON.parse(m.value) as { reason: string; partition: number; offset: number }
  )
  const inTopic = new Set(letters.map((d) => `${d.partition}/${d.offset}/${d.reason}`))
  const rows = await query<{ partition: number; offset: string; reason: string }>(
    r.databaseUrl,
    'SELECT partition, "offset", reason FROM dead_letters WHERE topic = $1',
    [r.topic]
  )
  const inTable = new Map<string, number>()
  for (const row of rows) {
    const k = `${row.partition}/${row.offset}/${row.reason}`
    inTable.set(k, (inTable.get(k) ?? 0) + 1)
  }
  const problems: Array<string> = []
  const want = new Set<string>()
  for (const p of expected) {
    const m = where.get(p.value)
    if (m === undefined) {
      problems.push(`poison ${p.value.slice(0, 40)}: not in the topic`)
      continue
    }
    const k = `${m.partition}/${m.offset}/${p.reason}`
    want.add(k)
    if (!inTopic.has(k)) problems.push(`${k}: not in the DLQ topic`)
    if (inTable.get(k) !== 1) problems.push(`${k}: ${inTable.get(k) ?? 0} times in dead_letters`)
  }
  for (const k of inTopic) if (!want.has(k)) problems.push(`${k}: in the DLQ topic, not a poison record`)
  for (const k of inTable.keys()) if (!want.has(k)) problems.push(`${k}: in dead_letters, not a poison record`)
  return problems
}

type Input = Map<string, { partition: number; offset: number }>
/** The input topic's records by value (where each poison record landed). */
const inputOf = async (r: Rig): Promise<Input> =>
  new Map((await readTopic(r.kafkaBrokers, r.topic)).map((m) => [m.value, m]))

/**
 * Waits (bounded) until the DLQ topic and `dead_letters` hold exactly the poison records. The input topic is read
 * once (nothing is published meanwhile); the DLQ topic and the table on every try.
 */
export const deadLettersConverged = async (r: Rig, expected: ReadonlyArray<Poison>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  let last: ReadonlyArray<string> = ["never compared"]
  let input: Input | undefined
  while (Date.now() < deadline) {
    last = await (async () => deadLetterDifferences(r, expected, (input ??= await inputOf(r))))().catch(
      (e: unknown) => [`read failed: ${String(e)}`]
    )
    if (last.length === 0) return
    await sleep(500)
  }
  throw new Error(`dead letters differ (${last.length}):\n${last.slice(0, 12).join("\n")}`)
}

/**
 * Resolves once `pattern` appears in the process's output; the output so far on failure. The bound covers a start-up,
 * which a loaded 2-core machine can stretch past a minute.
 */
export const logged = async (p: Running, pattern: RegExp, what: string, timeoutMs = 150_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (pattern.test(p.output())) return
    if (p.child.exitCode !== null) break
    await sleep(50)
  }
  throw new Error(`${what}: /${pattern.source}/ not logged (exit ${p.child.exitCode})\n${p.output().slice(-4000)}`)
}

/** How many times `pattern` occurs in the output. */
export const occurrences = (p: Running, pattern: RegExp) =>
  p.output().match(new RegExp(pattern.source, `${pattern.flags.replace("g", "")}g`))?.length ?? 0

/** Waits (bounded) for the process to exit by itself; its exit code. */
export const exited = async (p: Running, what: string, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (p.child.exitCode === null && p.child.signalCode === null && Date.now() < deadline) await sleep(100)
  if (p.child.exitCode === null && p.child.signalCode === null)
    throw new Error(`${what}: still running after ${timeoutMs} ms\n${p.output().slice(-4000)}`)
  return p.child.exitCode
}
