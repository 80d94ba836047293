/** "invalid interval: expected "1m" | "5m" | …, got "2m"": one phrase per parameter, from Schema's issues. */
export const describeIssues = (issues: ReadonlyArray<unknown>): string => {
  const byParam = new Map<string, { expected: Set<string>; actual: string | undefined; other: Array<string> }>()
  for (const issue of issues) {
    if (typeof issue !== "object" || issue === null) continue
    const path = "path" in issue && Array.isArray(issue.path) ? issue.path.join(".") : ""
    const message = "message" in issue && typeof issue.message === "string" ? issue.message : ""
    const entry = byParam.get(path) ?? { expected: new Set<string>(), actual: undefined, other: [] }
    byParam.set(path, entry)
    const m = /^Expected (.*), actual (.*)$/s.exec(message)
    if (m === null) entry.other.push(message)
    else if (m[1] !== "undefined") {
      entry.expected.add(m[1]!)
      entry.actual = m[2]
    }
  }
  const parts = [...byParam].map(([param, e]) => {
    const what = e.expected.size > 0 ? `expected ${[...e.expected].join(" | ")}, got ${e.actual}` : e.other.join("; ")
    return `${param || "request"}: ${what}`
  })
  return parts.length === 0 ? "invalid request" : `invalid ${parts.join("; ")}`
}
