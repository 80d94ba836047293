import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { HttpApiBuilder, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

const require = createRequire(import.meta.url)
// dist/Http/Dashboard.js and src/Http/Dashboard.ts both sit two levels under the repository root.
const publicDir = fileURLToPath(new URL("../../public/", import.meta.url))

/** Front-end libraries come from node_modules, never a CDN: the dashboard works offline. */
const vendor: Record<string, { readonly module: string; readonly type: string }> = {
  "htmx.min.js": { module: "htmx.org/dist/htmx.min.js", type: "text/javascript" },
  "uPlot.iife.min.js": { module: "uplot/dist/uPlot.iife.min.js", type: "text/javascript" },
  "uPlot.min.css": { module: "uplot/dist/uPlot.min.css", type: "text/css" }
}

const script = "text/javascript; charset=utf-8"
/**
 * Only these files are served from public/: no path ever reaches the file system from a request. The scripts are the
 * dashboard's ES modules (app.js imports the others; a module needs a JavaScript MIME type, and script-src 'self' of
 * the Content-Security-Policy admits them, all being same-origin).
 */
const assets: Record<string, string> = {
  "styles.css": "text/css; charset=utf-8",
  ...Object.fromEntries(
    [
      "app.js",
      "candles.js",
      "chart.js",
      "draw.js",
      "feed.js",
      "format.js",
      "markets.js",
      "model.js",
      "readout.js",
      "selection.js",
      "series.js",
      "snapshot.js",
      "state.js",
      "status.js",
      "zoom.js"
    ].map((file) => [file, script])
  )
}

const notFound = HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })

const serve = (path: string, contentType: string) =>
  HttpServerResponse.file(path, { contentType, headers: { "cache-control": "no-cache" } }).pipe(
    Effect.orElseSucceed(() => notFound)
  )

export const DashboardRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.all([
    router.get("/", serve(`${publicDir}index.html`, "text/html; charset=utf-8")),
    router.get("/favicon.ico", Effect.succeed(HttpServerResponse.empty({ status: 204 }))),
    router.get(
      "/static/:file",
      Effect.flatMap(
        Effect.map(HttpRouter.params, (p) => p.file ?? ""),
        (file) => {
          const type = Object.hasOwn(assets, file) ? assets[file] : undefined
          return type === undefined ? Effect.succeed(notFound) : serve(publicDir + file, type)
        }
      )
    ),
    router.get(
      "/vendor/:file",
      Effect.flatMap(
        Effect.map(HttpRouter.params, (p) => p.file ?? ""),
        (file) => {
          const entry = Object.hasOwn(vendor, file) ? vendor[file] : undefined
          return entry === undefined ? Effect.succeed(notFound) : serve(require.resolve(entry.module), entry.type)
        }
      )
    )
  ])
)
