import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, type ConsoleMessage, chromium, type Page } from "playwright-core"
import { eventually } from "../../support/waiting.mjs"
import { type Running, startCli, untilHealthy } from "../e2e/support.js"
import { type HistoryOptions, writeHistory } from "./history.js"

// What the browser tests share: Debian's Chromium (scripts/install-test-tools.sh installs it) driven by playwright-core,
// against the built `node dist/main.js service` on embedded adapters, fed by a replay file (test/browser/history.ts).
export const CHROMIUM = "/usr/bin/chromium"
export const chromiumPresent = existsSync(CHROMIUM)
export const screenshots = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url))

/** Not a skip: CI installs Chromium, so a missing browser is a broken environment and must fail loudly. */
export const requireChromium = () => {
  if (!chromiumPresent) {
    throw new Error(
      `${CHROMIUM} is missing: the browser test needs Debian's Chromium. Run scripts/install-test-tools.sh (as root).`
    )
  }
}

/**
 * Known benign console errors: none, so every console.error fails the test. In the runs so far Chromium logged nothing:
 * /favicon.ico answers 204 (no 404 "Failed to load resource"), every asset is same-origin, and the errors are checked
 * before teardown, so the SSE stream (/api/events) being cut when the page or the service closes never counts.
 * Should one appear that says nothing about the dashboard, allow it here by its exact text and URL, with the reason.
 */
const benign = (_m: ConsoleMessage): boolean => false

export interface Dashboard {
  readonly svc: Running
  readonly browser: Browser
  readonly dir: string
  /** A page that records its page errors and console errors in `problems`. */
  /** allowed: console errors a test provokes on purpose. */
  readonly newPage: (
    viewport?: { width: number; height: number },
    allowed?: (m: ConsoleMessage) => boolean
  ) => Promise<Page>
  readonly problems: Array<string>
  readonly close: () => Promise<void>
}

/** Headless Debian Chromium, as every browser test runs it. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })

/** A page maker whose pages record their page errors and console errors (but `allowed` ones) in `problems`. */
export const pageMaker =
  (browser: Browser, problems: Array<string>) =>
  async (viewport = { width: 1280, height: 900 }, allowed: (m: ConsoleMessage) => boolean = benign): Promise<Page> => {
    const page = await browser.newPage({ viewport })
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.stack ?? e.message}`))
    page.on("console", (m) => {
      if (m.type() === "error" && !benign(m) && !allowed(m))
        problems.push(`console.error: ${m.text()} (${m.location().url})`)
    })
    return page
  }

/** Writes the replay file, starts the service on it and waits for `ready` (a probe of the HTTP API), launches Chromium. */
export const startDashboard = async (
  history: Omit<HistoryOptions, "path">,
  ready: (url: string) => Promise<true | undefined>,
  what: string
): Promise<Dashboard> => {
  const dir = mkdtempSync(join(tmpdir(), "dashboard-"))
  const file = join(dir, "history.ndjson")
  writeHistory({ ...history, path: file })
  const svc = await startCli(["service"], {
    SOURCE: `replay:${file}`,
    REPLAY_SPEED: "1",
    CHECKPOINT_INTERVAL: "1 second",
    BATCH_SIZE: "5000"
  })
  await untilHealthy(svc)
  await eventually(() => ready(svc.url), 120_000, what)
  const browser = await launchChromium()
  const problems: Array<string> = []
  const newPage = pageMaker(browser, problems)
  const close = async () => {
    await browser.close().catch(() => undefined)
    if (svc.child.exitCode === null) await svc.stop("SIGKILL").catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
  return { svc, browser, dir, newPage, problems, close }
}
