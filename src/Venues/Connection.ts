import { Chunk, Deferred, Effect, Exit, Metric, Option, Queue, Random, Stream } from "effect"
import { WebSocket } from "ws"
import { shorten } from "../Text.js"
import { backoffDelay, type ConnectionOptions, type Settings, settings } from "./ConnectionOptions.js"
import { connectedGauge, connectionsCounter, framesCounter, pausedCounter, reconnectsCounter } from "./Metrics.js"

/**
 * One venue WebSocket as a stream of what happened on it, reconnecting forever. Frames are passed on as text, garbage
 * and all: reading them is the decoders' job, downstream. The stream never fails: a refused connection, an error or
 * a close is a `Closed` event, and the next attempt follows after a jittered backoff.
 */
export type FrameEvent =
  /** A connection opened: `connection` counts them from 1 (a new number after every reconnect). */
  | { readonly _tag: "Open"; readonly at: number; readonly connection: number; readonly url: string }
  | { readonly _tag: "Frame"; readonly at: number; readonly text: string }
  /** A connection closed or could not be opened; another attempt follows. */
  | { readonly _tag: "Closed"; readonly at: number; readonly reason: string }

export type { ConnectionOptions } from "./ConnectionOptions.js"
export { backoffDelay } from "./ConnectionOptions.js"

/** How a connection ended, for the next attempt's delay. */
interface Ended {
  /** Milliseconds it was open; undefined when it never opened. */
  readonly lived: number | undefined
  /** We closed it on purpose (max age, the venue's shutdown notice): reconnect without waiting. */
  readonly planned: boolean
  readonly reason: string
}

interface Loop {
  connections: number
  attempt: number
  ended: Ended | undefined
}

/** Whether the socket can take a message now; a message sent to a closing socket is dropped. */
const sendText = (socket: WebSocket, text: string) => {
  if (socket.readyState === WebSocket.OPEN) socket.send(text, () => undefined)
}

/** After the open: count it, send the subscribe messages, then the keep-alive messages. */
const afterOpen = (s: Settings, socket: WebSocket, opened: Deferred.Deferred<void>, counted: { value: boolean }) =>
  Effect.gen(function* () {
    yield* Deferred.await(opened)
    yield* Effect.uninterruptible(
      Effect.all([Metric.increment(connectedGauge(s.venue)), Metric.increment(connectionsCounter(s.venue))]).pipe(
        Effect.andThen(() => {
          counted.value = true
        })
      )
    )
    for (const [i, message] of s.subscribe.entries()) {
      if (i > 0 && s.sendSpacing > 0) yield* Effect.sleep(s.sendSpacing)
      sendText(socket, message)
    }
    const keepAlive = s.keepAlive
    if (keepAlive === undefined) return
    for (let n = 1; ; n++) {
      yield* Effect.sleep(keepAlive.every)
      sendText(socket, keepAlive.message(n))
    }
  })

interface Live {
  startedAt: number
  openedAt: number | undefined
  /** The last frame, ping or pong. */
  lastAt: number
  /** Why we closed it, when we did. */
  reason: string | undefined
  planned: boolean
  error: string | undefined
}

/** Closes a connection that is silent, too old, or still not open; sleeps until the next thing to check. */
const watchdog = (s: Settings, socket: WebSocket, live: Live, close: (reason: string, planned: boolean) => void) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    while (live.reason === undefined) {
      const now = clock.unsafeCurrentTimeMillis()
      // A paused socket is our consumer's slowness, not the venue's silence.
      if (socket.isPaused) live.lastAt = now
      const opened = live.openedAt
      if (opened === undefined) {
        if (now - live.startedAt >= s.openTimeout) close(`no open within ${s.openTimeout} ms`, false)
        else yield* Effect.sleep(live.startedAt + s.openTimeout - now)
        continue
      }
      if (now - live.lastAt >= s.staleAfter) close(`stale: no frame for ${s.staleAfter} ms`, false)
      else if (now - opened >= s.maxAge) close(`max age of ${s.maxAge} ms reached`, true)
      else yield* Effect.sleep(Math.max(1, Math.min(live.lastAt + s.staleAfter, opened + s.maxAge) - now))
    }
  })

/** Wires the socket's events to the queue; returns how to close it on purpose. */
const listen = (
  s: Settings,
  socket: WebSocket,
  live: Live,
  push: (event: FrameEvent) => void,
  now: () => number,
  onOpen: () => void
) => {
  const close = (reason: string, planned: boolean) => {
    live.reason ??= reason
    live.planned ||= planned
    socket.terminate()
  }
  socket.on("open", () => {
    live.openedAt = now()
    live.lastAt = live.openedAt
    onOpen()
  })
  socket.on("message", (data: Buffer | ArrayBuffer | Array<Buffer>) => {
    const at = now()
    live.lastAt = at
    const text = Buffer.isBuffer(data)
      ? data.toString()
      : Array.isArray(data)
        ? Buffer.concat(data).toString()
        : Buffer.from(data).toString()
    push({ _tag: "Frame", at, text })
    const answer = s.reply(text)
    if (answer !== undefined) sendText(socket, answer)
    const closing = s.closing(text)
    if (closing !== undefined) close(closing, true)
  })
  // `ws` answers pings by itself (autoPong); a ping or pong still says the connection is alive.
  socket.on("ping", () => {
    live.lastAt = now()
  })
  socket.on("pong", () => {
    live.lastAt = now()
  })
  socket.on("error", (e: Error) => {
    live.error ??= e.message
  })
  socket.on("close", (code: number, why: Buffer) => {
    const said = why.toString()
    const reason =
      live.reason ??
      (live.error === undefined
        ? `closed by the venue (code ${code}${said === "" ? "" : `: ${shorten(said, 200)}`})`
        : `error: ${live.error}`)
    push({ _tag: "Closed", at: now(), reason })
  })
  return close
}

const maxPayload = 16 * 1024 * 1024
const noop = () => undefined

/** One connection attempt: Open, its frames, then Closed (always, opened or not); the socket dies with the scope. */
const session = (s: Settings, loop: Loop): Stream.Stream<FrameEvent> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const now = () => clock.unsafeCurrentTimeMillis()
      const queue = yield* Queue.unbounded<FrameEvent>()
      const held = () => Option.getOrElse(queue.unsafeSize(), () => 0)
      const started = now()
      const live: Live = {
        startedAt: started,
        openedAt: undefined,
        lastAt: started,
        reason: undefined,
        planned: false,
        error: undefined
      }
      const made = yield* Effect.either(
        Effect.try(
          () => new WebSocket(s.url, { handshakeTimeout: s.openTimeout, maxPayload, perMessageDeflate: false })
        )
      )
      if (made._tag === "Left") {
        const reason = `cannot connect to ${s.url}: ${String(made.left.error)}`
        loop.ended = { lived: undefined, planned: false, reason }
        return Stream.make<Array<FrameEvent>>({ _tag: "Closed", at: now(), reason })
      }
      const socket = made.right
      const opened = yield* Deferred.make<void>()
      const counted = { value: false }
      let pauses = 0
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          socket.removeAllListeners()
          socket.on("error", noop)
          socket.terminate()
          return counted.value ? Metric.incrementBy(connectedGauge(s.venue), -1) : Effect.void
        })
      )
      const push = (event: FrameEvent) => {
        if (event._tag === "Closed") {
          const lived = live.openedAt === undefined ? undefined : event.at - live.openedAt
          loop.ended = { lived, planned: live.planned, reason: event.reason }
        }
        Queue.unsafeOffer(queue, event)
        if (!socket.isPaused && held() >= s.buffer) {
          socket.pause()
          pauses += 1
        }
      }
      const close = listen(s, socket, live, push, now, () => {
        loop.connections += 1
        push({ _tag: "Open", at: live.openedAt ?? now(), connection: loop.connections, url: s.url })
        Deferred.unsafeDone(opened, Exit.void)
      })
      yield* Effect.forkScoped(afterOpen(s, socket, opened, counted))
      yield* Effect.forkScoped(watchdog(s, socket, live, close))
      const resumeBelow = Math.floor(s.buffer / 2)
      const paused = pausedCounter(s.venue)
      return Stream.fromQueue(queue, { maxChunkSize: 256 }).pipe(
        Stream.mapChunksEffect((chunk) => {
          if (socket.isPaused && held() <= resumeBelow) socket.resume()
          const counted = pauses
          pauses = 0
          return counted === 0 ? Effect.succeed(chunk) : Effect.as(Metric.incrementBy(paused, counted), chunk)
        }),
        Stream.takeUntil((e) => e._tag === "Closed")
      )
    })
  )

/** The wait before the next attempt; a connection that lived `resetAfter` starts the backoff over. */
const nextDelay = (s: Settings, loop: Loop, ended: Ended) =>
  Effect.gen(function* () {
    if (ended.lived !== undefined && ended.lived >= s.resetAfter) loop.attempt = 0
    // A planned close after a healthy connection reconnects at once; a venue that keeps doing it gets the backoff.
    const delay =
      ended.planned && loop.attempt === 0 ? 0 : backoffDelay(loop.attempt, s.base, s.cap, yield* Random.next)
    loop.attempt += 1
    return delay
  })

/**
 * The venue's connection as a stream of events, forever: connect, send the subscribe messages, pass every text frame
 * on, and after any close (the venue's, an error, the stale timer, the maximum age, a shutdown notice) reconnect
 * after a jittered backoff. Times are the Clock's. Interrupting the stream closes the socket.
 */
export const frames = (options: ConnectionOptions): Stream.Stream<FrameEvent> => {
  const s = settings(options)
  const framesTotal = framesCounter(s.venue)
  return Stream.suspend(() => {
    const loop: Loop = { connections: 0, attempt: 0, ended: undefined }
    const next = Effect.gen(function* () {
      const ended = loop.ended
      if (ended !== undefined) {
        const delay = yield* nextDelay(s, loop, ended)
        yield* Effect.logWarning(`${s.venue}: connection closed (${ended.reason}); reconnecting in ${delay} ms`)
        yield* Metric.increment(reconnectsCounter(s.venue))
        if (delay > 0) yield* Effect.sleep(delay)
      }
      return session(s, loop)
    })
    return Stream.repeatEffect(next).pipe(
      Stream.flatten(),
      Stream.mapChunksEffect((chunk) =>
        Effect.as(
          Metric.incrementBy(
            framesTotal,
            Chunk.reduce(chunk, 0, (n, e) => (e._tag === "Frame" ? n + 1 : n))
          ),
          chunk
        )
      )
    )
  })
}
