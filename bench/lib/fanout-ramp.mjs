// One fan-out ramp: K clients (over ≥ 2 processes) on one server; ticks published on its Redis channel at doubling
// rates, each step a window of scheduled ticks (ingestTime = the tick's moment on the schedule). A step is behind
// when the clients received fewer than 0.95 × (window ticks × clients) during the window (delivery below the rate
// offered), fewer than 99% of them arrived at all (within the grace), or the median lag passed `behindMs` (a backlog;
// the median, not the p99, so that a publisher or client descheduled for a moment on a busy machine, which delays
// both servers alike, does not end the ramp by itself).
import { cpuMeter, procStat } from "../../support/processes.mjs"
import { log } from "../../support/results.mjs"
import { round } from "../../support/statistics.mjs"
import { sleep } from "../../support/waiting.mjs"
import { connectGroup, settledReport } from "./fanout-clients.mjs"
import { publishOnSchedule, redisSender } from "./latency-schedule.mjs"

/** The median of `n` RSS samples 200 ms apart (a GC in between moves one sample, not the figure). */
const rssSample = async (pid, n = 7) => {
  const xs = []
  for (let i = 0; i < n; i++) {
    xs.push(procStat(pid)?.rss ?? 0)
    await sleep(200)
  }
  return xs.sort((a, b) => a - b)[Math.floor(n / 2)]
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
    send: redisSender(publisher, server.channel, server.stream),
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
  const receivedFraction = expected > 0 ? round(got.receivedInWindow / expected, 4) : null
  const behind =
    fraction === null || fraction < 0.99 || receivedFraction < 0.95 || (got.lagMs.p50 ?? Infinity) > behindMs
  const cpuSeconds = usage.cpuPercent === null ? null : (usage.cpuPercent / 100) * seconds
  return {
    rate,
    publisher: published,
    sentInWindow: inWindow,
    expected,
    delivered,
    repeats: got.repeats,
    deliveredFraction: fraction,
    // What reached the clients during the window, due then or before: the delivery rate achieved.
    deliveredPerSecond: round(got.receivedInWindow / seconds, 0),
    receivedInWindowFraction: receivedFraction,
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
  const maxSeconds = rates.length * (stepOptions.seconds + stepOptions.warmup + 15) + settle + 120
  // Warm-up before the idle figure: a few clients and ticks through every path once (code compiled, pools and heap
  // grown for them), so the per-connection figure is what K more connections cost, not the first one's set-up.
  const warm = await connectGroup({
    name: `${server.name}-warm`,
    url: server.url,
    clients: 4,
    processes: 2,
    maxSeconds
  })
  await publishOnSchedule({
    ...stepOptions,
    rate: rates[0],
    seconds: 1,
    send: redisSender(stepOptions.publisher, server.channel, server.stream)
  })
  await warm.close()
  await sleep(settle * 1000)
  const idleRss = await rssSample(server.pid)
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
