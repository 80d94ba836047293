// One fan-out ramp: K clients (over ≥ 2 processes) on one server; ticks published on its Redis channel at doubling
// rates, each step a window of scheduled ticks (ingestTime = the tick's moment on the schedule). A step is behind
// when fewer than 99% of (window ticks × clients) arrive, or the p99 lag passes `behindMs` (a backlog: the lag grows).
import { cpuMeter, procStat } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"
import { connectGroup, settledReport } from "./fanout-clients.mjs"
import { publishOnSchedule, redisSender } from "./latency-schedule.mjs"

const rssSample = async (pid, n = 5) => {
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += procStat(pid)?.rss ?? 0
    await sleep(200)
  }
  return sum / n
}
const mib = (bytes) => round(bytes / 2 ** 20, 1)

/** One rate: publish for warmup + seconds, count the window's ticks at every client, meter the server's CPU. */
const step = async ({ server, group, rate, coins, publisher, seconds, warmup, behindMs, tag }) => {
  const name = `${tag}@${rate}`
  const startAt = Date.now() + 200
  const from = startAt + warmup * 1000
  const to = from + seconds * 1000
  group.phase(name, from, to)
  const cpu = cpuMeter(server.pid)
  const clientCpu = group.pids.map((pid) => cpuMeter(pid))
  const startMeters = setTimeout(
    () => {
      cpu.start()
      for (const c of clientCpu) c.start()
    },
    Math.max(0, from - Date.now())
  )
  let inWindow = 0
  const published = await publishOnSchedule({
    coins,
    rate,
    seconds: warmup + seconds,
    startAt,
    send: redisSender(publisher, server.channel),
    onTick: (t) => {
      if (t >= from && t < to) inWindow++
    }
  })
  clearTimeout(startMeters)
  const usage = cpu.stop()
  const clientUsage = clientCpu.map((c) => c.stop().cpuPercent ?? 0)
  const expected = inWindow * group.clients
  const got = await settledReport(group, name, { expected })
  const delivered = got.ticks - got.repeats
  const fraction = expected > 0 ? round(delivered / expected, 4) : null
  const behind = fraction === null || fraction < 0.99 || (got.lagMs.p99 ?? Infinity) > behindMs
  const cpuSeconds = usage.cpuPercent === null ? null : (usage.cpuPercent / 100) * seconds
  return {
    rate,
    publisher: published,
    sentInWindow: inWindow,
    expected,
    delivered,
    repeats: got.repeats,
    deliveredFraction: fraction,
    deliveredPerSecond: round(delivered / seconds, 0),
    lagMs: got.lagMs,
    behind,
    serverCpuPercent: usage.cpuPercent,
    serverCpuSecondsPerMillion:
      cpuSeconds === null || delivered === 0 ? null : round((cpuSeconds / delivered) * 1e6, 2),
    serverRssMiB: usage.rssMiB,
    clientProcessesCpuPercent: clientUsage,
    closedEarly: got.closedEarly
  }
}

/**
 * Connects K clients to `server`, measures RSS per connection, then ramps `rates` until a step is behind at a rate
 * of at least `mustReach` (so the service is measured at the rate where the baseline fell behind), then closes.
 */
export const ramp = async ({ server, clients, processes, rates, mustReach, settle, ...stepOptions }) => {
  const idleRss = await rssSample(server.pid)
  const maxSeconds = rates.length * (stepOptions.seconds + stepOptions.warmup + 15) + settle + 120
  const group = await connectGroup({ name: server.name, url: server.url, clients, processes, maxSeconds })
  log(`fanout: ${server.name}: ${group.clients} clients in ${group.processes} processes in ${group.millis} ms`)
  await sleep(settle * 1000)
  const connectedRss = await rssSample(server.pid)
  const steps = []
  try {
    for (const rate of rates) {
      const s = await step({ server, group, rate, ...stepOptions, tag: server.name })
      steps.push(s)
      log(
        `fanout: ${server.name} @${rate}/s × ${group.clients}: ${s.deliveredFraction} delivered, ` +
          `${s.deliveredPerSecond}/s, lag p50 ${s.lagMs.p50} p99 ${s.lagMs.p99} ms, CPU ${s.serverCpuPercent}%` +
          (s.behind ? " (behind)" : "")
      )
      if (s.behind && rate >= (mustReach ?? 0)) break
    }
  } finally {
    await group.close()
  }
  await sleep(2000)
  const afterRss = await rssSample(server.pid)
  const firstBehind = steps.find((s) => s.behind)
  const kept = steps.filter((s) => !s.behind).at(-1)
  return {
    clientsConnected: group.clients,
    clientProcesses: group.processes,
    connectMillis: group.millis,
    rssIdleMiB: mib(idleRss),
    rssConnectedMiB: mib(connectedRss),
    rssAfterCloseMiB: mib(afterRss),
    rssPerConnectionKiB: round((connectedRss - idleRss) / group.clients / 1024, 1),
    fellBehindAt: firstBehind?.rate ?? null,
    keptUpTo: kept?.rate ?? null,
    steps
  }
}
