// `npm start` builds first when dist/ is missing or older than any source file.
import { execSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const p = join(dir, e.name)
    return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }, 0)

const built = existsSync("dist/main.js") ? statSync("dist/main.js").mtimeMs : 0
if (built === 0 || newest("src") > built || statSync("package-lock.json").mtimeMs > built) {
  console.error("building dist/ …")
  execSync("npm run build --silent", { stdio: "inherit" })
}
