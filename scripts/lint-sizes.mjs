#!/usr/bin/env node
// Structure limits the lint enforces in src/ and support/: no file over 300 lines and no function over 80 (TypeScript's own parser).
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

const maxFileLines = 300
const maxFunctionLines = 80
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : []
  )

const problems = []
for (const file of [...files("src"), ...files("support")]) {
  const text = readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const lines = source.getLineAndCharacterOfPosition(text.length).line + 1
  if (lines > maxFileLines) problems.push(`${file}: ${lines} lines (at most ${maxFileLines})`)
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const from = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const to = source.getLineAndCharacterOfPosition(node.getEnd()).line
      if (to - from + 1 > maxFunctionLines) {
        problems.push(`${file}:${from + 1}: a function of ${to - from + 1} lines (at most ${maxFunctionLines})`)
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}
if (problems.length > 0) {
  console.error(problems.join("\n"))
  process.exit(1)
}
