// @ts-check
// The fake venue is TypeScript (test/support/FakeVenue.ts, the tests' own): node cannot load it as it is, so the
// venues scenario bundles it at run time with esbuild (installed with vite). Its packages (ws, effect) stay imports,
// resolved from the repository's node_modules: the bundle is written under node_modules/.cache, which git ignores.
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "../../support/paths.mjs"

export const bundleFakeVenue = async () => {
  /** @type {typeof import("esbuild")} */
  let esbuild
  try {
    esbuild = await import("esbuild")
  } catch {
    throw new Error("esbuild is missing from node_modules (it comes with vite, a devDependency): run `npm ci`")
  }
  const dir = join(repoRoot, "node_modules", ".cache", "bench")
  mkdirSync(dir, { recursive: true })
  const outfile = join(dir, "FakeVenue.mjs")
  await esbuild.build({
    entryPoints: [join(repoRoot, "test", "support", "FakeVenue.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    logLevel: "warning"
  })
  return { file: outfile, esbuild: esbuild.version }
}
