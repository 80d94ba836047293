// recovery (bench/scenarios/recovery.mjs): one run of the baseline, a bare kafkajs consumer with auto-commit
// (at-least-once) in the processor's group settings, killed and restarted as the processor is; its redeliveries show
// what the checkpoints save.
import { createTopic, deleteTopics, producer } from "../../support/kafka.mjs"
import { jsonLines, lineReader } from "../../support/lines.mjs"
import { startNodeScript } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { unique } from "../../support/services.mjs"
import { round } from "../../support/statistics.mjs"
import { publishAtRate } from "../../support/ticks.mjs"
import { sleep } from "../../support/waiting.mjs"
import { endSampler, phaseTimes, timeline } from "./recovery-common.mjs"

export const runBaseline = async ({ env, clean, rate, seconds, killAt, killDelay, coins, restartDelay }) => {
  const topic = unique("bench_recbase")
  await createTopic(env.KAFKA_BROKERS, topic, 3)
  clean.add("baseline topic", () => deleteTopics(env.KAFKA_BROKERS, [topic]))
  const group = unique("bench_recbase")
  // delivered[p][offset] = times delivered, across both consumers.
  const delivered = new Map([0, 1, 2].map((p) => [p, new Uint8Array(Math.ceil(rate * seconds * 1.2) + 10_000)]))
  const position = new Map()
  const starts = []
  const start = (name) => {
    const p = startNodeScript(
      "baseline-consumer.mjs",
      ["--brokers", env.KAFKA_BROKERS, "--topic", topic, "--group", group, "--mode", "follow"],
      { name }
    )
    clean.add(name, () => p.stop("SIGKILL"))
    const marks = { joined: undefined, first: undefined }
    jsonLines(p, (m) => {
      if (m.ev === "joined") marks.joined ??= m.t
      if (m.ev === "batch") {
        marks.first ??= m.t
        const d = delivered.get(m.p)
        for (let o = m.first; o <= m.last; o++) if (o < d.length) d[o] = Math.min(255, d[o] + 1)
        position.set(m.p, Math.max(position.get(m.p) ?? 0, m.last + 1))
      }
    })
    starts.push(marks)
    return { p, marks }
  }
  const first = start("recovery-baseline-1")
  await lineReader(first.p).next((m) => m.ev === "joined", 60_000, "baseline join")
  const ends = await endSampler(env, topic)
  const prod = await producer(env.KAFKA_BROKERS)
  clean.add("baseline publisher", () => prod.disconnect())
  const t0 = Date.now()
  const publishing = publishAtRate(prod, topic, coins, rate, seconds)
  let publishEnd
  void publishing.then(() => (publishEnd = Date.now()))
  const tl = timeline()
  let kill
  let second
  let drained
  const consumed = () => [...position.values()].reduce((a, b) => a + b, 0)
  const deadline = t0 + (seconds + 240) * 1000
  while (Date.now() < deadline) {
    const t = Date.now()
    tl.add({ t, lag: Math.max(0, ends.total() - consumed()) })
    if (kill === undefined && t - t0 >= killAt * 1000 + killDelay) {
      first.p.child.kill("SIGKILL")
      kill = Date.now()
      log(`recovery: baseline consumer SIGKILLed at ${round((kill - t0) / 1000, 1)} s`)
      if (restartDelay > 0) await sleep(restartDelay * 1000)
      second = start("recovery-baseline-2")
      continue
    }
    if (publishEnd !== undefined && second?.marks.first !== undefined && consumed() >= (await ends.fresh())) {
      drained = Date.now()
      break
    }
    await sleep(100)
  }
  const published = await publishing
  const topicRecords = await ends.fresh()
  await ends.stop()
  const threshold = Math.max(Math.round(1.5 * tl.steadyLag(kill - 5000, kill)), rate)
  // The bare consumer has no checkpoint: "resumed" is its first batch after the restart.
  const times = phaseTimes({
    kill,
    claimed: second.marks.joined,
    resumed: second.marks.first,
    points: tl.points,
    threshold,
    publishEnd,
    drained
  })
  let lost = 0
  let redelivered = 0
  const endsNow = position
  for (const [p, d] of delivered) {
    const end = endsNow.get(p) ?? 0
    for (let o = 0; o < end && o < d.length; o++) {
      if (d[o] === 0) lost++
      else if (d[o] > 1) redelivered += d[o] - 1
    }
  }
  await second.p.stop("SIGTERM")
  return {
    published,
    topicRecords,
    killedAtSeconds: round((kill - t0) / 1000, 2),
    killDelayMs: killDelay,
    steadyLagBeforeKill: tl.steadyLag(kill - 5000, kill),
    ...times,
    checks: {
      lost,
      redelivered,
      note: "auto-commit: redelivered records would be counted twice by a consumer that aggregates without checkpoints"
    }
  }
}
