import { type ClientRequest, type IncomingMessage, request } from "node:http"

/** One server-sent event as a client sees it. */
export interface SseEvent {
  readonly id: number | undefined
  readonly event: string
  readonly data: string
}

/**
 * A raw SSE connection (node:http, not fetch: it can pick its local address, 127.0.0.x, to look like another client,
 * and it can stop reading, like a slow client whose buffers fill up).
 */
export interface SseConnection {
  readonly status: number
  readonly headers: IncomingMessage["headers"]
  /** Parsed events so far (only while reading; none kept with `keep: false`). */
  readonly events: Array<SseEvent>
  /** Events received, the first and last id seen, and every jump in the ids (`[before, after]`), kept or not. */
  readonly stats: () => {
    readonly count: number
    readonly firstId: number | undefined
    readonly lastId: number | undefined
    readonly jumps: ReadonlyArray<readonly [number, number]>
  }
  /** Bytes received so far (only while reading). */
  readonly bytes: () => number
  /** The first bytes of the stream, as text (the preamble: `retry:` and the first comment). */
  readonly head: () => string
  /** The whole body, for a response that is not a stream (a 400 or 503). */
  readonly body: () => Promise<string>
  /** Starts (or resumes) reading and parsing the stream. */
  readonly read: () => void
  /** Resolves when `predicate` holds for the events, or rejects after `timeoutMs` (a bound, not a timing assertion). */
  readonly waitFor: (
    predicate: (events: ReadonlyArray<SseEvent>) => boolean,
    timeoutMs: number,
    what: string
  ) => Promise<void>
  /** Resolves when the stream ends (the server closed it), or rejects after `timeoutMs`. */
  readonly ended: (timeoutMs: number) => Promise<void>
  readonly close: () => void
}

export const openSse = (
  url: string,
  options: {
    readonly localAddress?: string
    readonly headers?: Record<string, string>
    /** false: do not read until read() is called. */
    readonly read?: boolean
    /** false: count events without keeping them (long runs). */
    readonly keep?: boolean
  } = {}
): Promise<SseConnection> =>
  new Promise((resolve, reject) => {
    const req: ClientRequest = request(
      url,
      {
        agent: false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        headers: { accept: "text/event-stream", ...options.headers }
      },
      (res) => {
        const events: Array<SseEvent> = []
        let count = 0
        let firstId: number | undefined
        let lastId: number | undefined
        const jumps: Array<readonly [number, number]> = []
        let head = ""
        let bytes = 0
        let buffer = ""
        let reading = false
        const waiters = new Set<() => void>()
        const onData = (chunk: Buffer) => {
          bytes += chunk.length
          const text = chunk.toString("utf8")
          if (head.length < 200) head += text.slice(0, 200 - head.length)
          buffer += text
          let end: number
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const fields: Record<string, string> = {}
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue
              const i = line.indexOf(":")
              if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1).trimStart()
            }
            if (fields["event"] !== undefined) {
              const id = fields["id"] === undefined ? undefined : Number(fields["id"])
              count += 1
              if (id !== undefined) {
                if (lastId !== undefined && id !== lastId + 1) jumps.push([lastId, id])
                firstId ??= id
                lastId = id
              }
              if (options.keep !== false) events.push({ id, event: fields["event"], data: fields["data"] ?? "" })
            }
          }
          for (const w of waiters) w()
        }
        const read = () => {
          if (!reading) {
            reading = true
            res.on("data", onData)
          }
          res.resume()
        }
        if (options.read !== false && res.statusCode === 200) read()
        else res.pause()
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          stats: () => ({ count, firstId, lastId, jumps }),
          bytes: () => bytes,
          head: () => head,
          body: () =>
            new Promise((ok, fail) => {
              let text = ""
              res.setEncoding("utf8")
              res.on("data", (d: string) => (text += d))
              res.on("end", () => ok(text))
              res.on("error", fail)
              res.resume()
            }),
          read,
          waitFor: (predicate, timeoutMs, what) =>
            new Promise((ok, fail) => {
              if (predicate(events)) {
                ok()
                return
              }
              const check = () => {
                if (predicate(events)) {
                  clearTimeout(timer)
                  waiters.delete(check)
                  ok()
                }
              }
              const timer = setTimeout(() => {
                waiters.delete(check)
                fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${events.length} events so far)`))
              }, timeoutMs)
              waiters.add(check)
            }),
          ended: (timeoutMs) =>
            new Promise((ok, fail) => {
              if (res.complete || res.destroyed) {
                ok()
                return
              }
              const timer = setTimeout(
                () => fail(new Error(`the stream did not end within ${timeoutMs} ms`)),
                timeoutMs
              )
              res.once("close", () => {
                clearTimeout(timer)
                ok()
              })
            }),
          close: () => {
            res.destroy()
            req.destroy()
          }
        })
      }
    )
    req.on("error", reject)
    req.end()
  })
