import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { parseDocument } from "yaml"

// docker-compose.yml, the Dockerfile and .dockerignore, checked statically: no Docker engine runs on our machines.

const root = fileURLToPath(new URL("..", import.meta.url))
const read = (file: string) => readFileSync(join(root, file), "utf8")

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type Service = { readonly [key: string]: Json }

const isRecord = (u: unknown): u is { readonly [key: string]: Json } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// The same YAML a user's `docker compose` reads: YAML 1.1 merge keys (`<<: *app`) included.
const composeText = read("docker-compose.yml")
const composeDoc = parseDocument(composeText, { merge: true })
const compose: unknown = composeDoc.toJS()
const services: { readonly [name: string]: Json } =
  isRecord(compose) && isRecord(compose["services"]) ? compose["services"] : {}

const service = (name: string): Service => {
  const s = services[name]
  if (!isRecord(s)) throw new Error(`docker-compose.yml has no service "${name}"`)
  return s
}

/** `${VAR:-default}` / `${VAR-default}` as Compose resolves them with VAR unset; `$$` is a literal `$`. */
const interpolate = (value: string) =>
  value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? "")
    .replace(/\$\$/g, "$")

const scalar = (value: Json | undefined): string | undefined =>
  value === undefined || value === null
    ? undefined
    : typeof value === "object"
      ? JSON.stringify(value)
      : interpolate(String(value))

/** `environment` as a map, from either of Compose's forms (map, or a list of `KEY=value`). */
const environment = (s: Service): Record<string, string | undefined> => {
  const env = s["environment"]
  if (env === undefined || env === null) return {}
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry)
        const eq = text.indexOf("=")
        return eq < 0 ? [text, undefined] : [text.slice(0, eq), interpolate(text.slice(eq + 1))]
      })
    )
  }
  if (isRecord(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, scalar(v)]))
  throw new Error("environment is neither a map nor a list")
}

/** `depends_on` as service → condition, from the short (list) or long (map) form. */
const dependsOn = (s: Service): Record<string, string> => {
  const deps = s["depends_on"]
  if (deps === undefined || deps === null) return {}
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [String(d), "service_started"]))
  if (isRecord(deps)) {
    return Object.fromEntries(
      Object.entries(deps).map(([name, d]) => [
        name,
        isRecord(d) ? String(d["condition"] ?? "service_started") : "service_started"
      ])
    )
  }
  throw new Error("depends_on is neither a list nor a map")
}

type Published = {
  readonly hostIp: string | undefined
  readonly published: string | undefined
  readonly target: string
}

/** `ports`, short (`[ip:][published:]target[/proto]`) or long form. */
const ports = (s: Service): ReadonlyArray<Published> => {
  const list = s["ports"]
  if (!Array.isArray(list)) return []
  return list.map((p: Json): Published => {
    if (isRecord(p)) {
      return { hostIp: scalar(p["host_ip"]), published: scalar(p["published"]), target: String(p["target"]) }
    }
    const parts = interpolate(String(p))
      .replace(/\/(tcp|udp)$/, "")
      .split(":")
    const target = parts.pop() ?? ""
    const published = parts.pop()
    const hostIp = parts.length > 0 ? parts.join(":") : undefined
    return { hostIp, published, target }
  })
}

/** A healthcheck's `test` as one line (exec form joined with spaces). */
const healthcheckTest = (s: Service): string | undefined => {
  const hc = s["healthcheck"]
  if (!isRecord(hc) || hc["disable"] === true) return undefined
  const test = hc["test"]
  if (Array.isArray(test)) return test.map(String).join(" ")
  return typeof test === "string" ? test : undefined
}

const command = (s: Service): ReadonlyArray<string> => {
  const c = s["command"]
  if (Array.isArray(c)) return c.map(String)
  return typeof c === "string" ? c.trim().split(/\s+/) : []
}

/** Services built from this repository's Dockerfile: the app image, whatever its command. */
const appServices = Object.keys(services).filter((name) => {
  const s = services[name]
  return isRecord(s) && s["build"] !== undefined
})

/** Every variable name in backticks in the first column of README's configuration table. */
const readmeVariables = (() => {
  const readme = read("README.md")
  const start = readme.indexOf("\n## Configuration")
  if (start < 0) throw new Error('README.md has no "## Configuration" section')
  const end = readme.indexOf("\n## ", start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const names = new Set<string>()
  for (const line of section.split("\n")) {
    if (!line.startsWith("|")) continue
    const firstCell = line.split("|")[1] ?? ""
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]!)
  }
  return names
})()

/** The README's commands table: what `node dist/main.js <command>` accepts. */
const readmeCommands = (() => {
  const readme = read("README.md")
  const start = readme.indexOf("\n## Commands")
  const end = readme.indexOf("\n## ", start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  return new Set([...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!))
})()

type Instruction = { readonly keyword: string; readonly args: string }

/** The Dockerfile as instructions, grouped by stage (a stage starts at each FROM). */
const dockerfileStages = (() => {
  const lines = read("Dockerfile")
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
  const joined = lines.join("\n").replace(/\\\n/g, " ")
  const instructions: Array<Instruction> = joined
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!
      return { keyword: m[1]!.toUpperCase(), args: m[2]!.trim() }
    })
  const stages: Array<Array<Instruction>> = []
  for (const ins of instructions) {
    if (ins.keyword === "FROM") stages.push([ins])
    else stages.at(-1)?.push(ins)
  }
  return stages
})()

/** The exec (JSON) form of ENTRYPOINT/CMD; the shell form is refused (it would not forward SIGTERM to node). */
const execForm = (stage: ReadonlyArray<Instruction>, keyword: string): unknown => {
  const ins = stage.filter((i) => i.keyword === keyword).at(-1)
  return ins === undefined ? undefined : JSON.parse(ins.args)
}

describe("docker-compose.yml", () => {
  it("is valid YAML with a services map", () => {
    expect(composeDoc.errors.map(String)).toEqual([])
    expect(composeDoc.warnings.map(String)).toEqual([])
    expect(isRecord(compose) && isRecord(compose["services"])).toBe(true)
  })

  it("has the infrastructure and the app", () => {
    for (const name of ["kafka", "redis", "timescaledb", "migrate", "app"]) {
      expect(Object.keys(services), `service ${name}`).toContain(name)
    }
    expect(appServices).toEqual(expect.arrayContaining(["migrate", "app"]))
  })

  it("pins the images the stack is built and tested for", () => {
    expect(service("kafka")["image"]).toMatch(/^apache\/kafka:3\.9\.\d+$/)
    expect(service("redis")["image"]).toBe("redis:7-alpine")
    expect(service("timescaledb")["image"]).toMatch(/^timescale\/timescaledb:(latest|2\.\d+\.\d+)-pg16$/)
  })

  it("points the app at the services by their names", () => {
    const env = environment(service("app"))

    const brokers = (env["KAFKA_BROKERS"] ?? "").split(",").map((b) => b.trim())
    expect(brokers).toEqual(["kafka:9092"])

    const redis = new URL(env["REDIS_URL"] ?? "")
    expect(redis.protocol).toBe("redis:")
    expect(redis.hostname).toBe("redis")
    expect(redis.port || "6379").toBe("6379")

    const db = new URL(env["DATABASE_URL"] ?? "")
    const pg = environment(service("timescaledb"))
    expect(db.protocol).toMatch(/^postgres(ql)?:$/)
    expect(db.hostname).toBe("timescaledb")
    expect(db.port || "5432").toBe("5432")
    expect(db.username).toBe(pg["POSTGRES_USER"])
    expect(db.password).toBe(pg["POSTGRES_PASSWORD"])
    expect(db.pathname).toBe(`/${pg["POSTGRES_DB"]}`)
    expect([pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]]).toEqual([
      "pipeline",
      "pipeline",
      "prices"
    ])

    expect(env["HOST"]).toBe("0.0.0.0")
    expect(env["PORT"]).toBe("3000")
    expect(env["SOURCE"]).toBe("auto")
  })

  it("gives every app command the same database as the app, and migrate the URL it needs", () => {
    const url = environment(service("app"))["DATABASE_URL"]
    for (const name of appServices) {
      const env = environment(service(name))
      if (env["DATABASE_URL"] !== undefined) expect(env["DATABASE_URL"], name).toBe(url)
    }
    expect(environment(service("migrate"))["DATABASE_URL"]).toBe(url)
  })

  it("uses only variables that README's configuration table documents", () => {
    expect(readmeVariables.size).toBeGreaterThan(5)
    for (const name of appServices) {
      for (const variable of Object.keys(environment(service(name)))) {
        expect(readmeVariables, `${name}: ${variable} is not in README.md's configuration table`).toContain(variable)
      }
    }
  })

  it("runs commands the CLI has, through the image's entrypoint", () => {
    expect(command(service("migrate"))).toEqual(["migrate"])
    const app = command(service("app"))
    expect(app.length === 0 || app[0] === "service", "app runs `service` (the image's default command)").toBe(true)
    for (const name of appServices) {
      const [first] = command(service(name))
      if (first !== undefined) expect(readmeCommands, `${name} runs "${first}"`).toContain(first)
      expect(service(name)["entrypoint"], `${name} keeps the image's entrypoint`).toBeUndefined()
    }
  })

  it("publishes the app on 127.0.0.1:3000", () => {
    const published = ports(service("app"))
    expect(published).toContainEqual({
      hostIp: "127.0.0.1",
      published: "3000",
      target: environment(service("app"))["PORT"]
    })
  })

  it("publishes nothing on every interface", () => {
    for (const name of Object.keys(services)) {
      for (const p of ports(service(name))) {
        expect(p.hostIp, `${name} publishes ${p.published ?? "?"}:${p.target} on all interfaces`).toBe("127.0.0.1")
      }
    }
  })

  it("gives each infrastructure service a healthcheck that probes it", () => {
    expect(healthcheckTest(service("kafka"))).toMatch(/kafka-broker-api-versions\.sh --bootstrap-server localhost:9092/)
    expect(healthcheckTest(service("redis"))).toMatch(/redis-cli ping/)
    expect(healthcheckTest(service("timescaledb"))).toMatch(/pg_isready/)
  })

  it("starts the app after the services are healthy and the migrations have run", () => {
    const deps = dependsOn(service("app"))
    expect(deps).toMatchObject({
      kafka: "service_healthy",
      redis: "service_healthy",
      timescaledb: "service_healthy",
      migrate: "service_completed_successfully"
    })
    expect(dependsOn(service("migrate"))).toMatchObject({ timescaledb: "service_healthy" })
    expect(service("migrate")["restart"] ?? "no").toBe("no")
  })

  it("health-checks the app on GET /health with node, since the slim image has no curl", () => {
    const test = healthcheckTest(service("app")) ?? ""
    expect(test).toMatch(/^CMD node -e /)
    expect(test).toMatch(/\/health/)
    expect(test).not.toMatch(/curl|wget/)
  })

  it("lets each app service depend only on services that exist, and only where the stage needs them", () => {
    const needs: Record<string, ReadonlyArray<string>> = {
      producer: ["kafka"],
      processor: ["kafka", "redis", "timescaledb", "migrate"],
      api: ["redis", "timescaledb", "migrate"]
    }
    for (const name of Object.keys(services)) {
      for (const dep of Object.keys(dependsOn(service(name))))
        expect(Object.keys(services), `${name} → ${dep}`).toContain(dep)
    }
    for (const [name, deps] of Object.entries(needs)) {
      if (services[name] === undefined) continue
      expect(service(name)["profiles"], `${name} is optional`).toContain("split")
      expect(command(service(name))).toEqual([name])
      expect(Object.keys(dependsOn(service(name))).sort(), name).toEqual([...deps].sort())
    }
  })

  it("scales out (profile scale): the stages, api replicas found by HAProxy's DNS, published only through it", () => {
    for (const name of ["producer", "processor", "api-pool", "lb"])
      expect(service(name)["profiles"], name).toContain("scale")
    const pool = service("api-pool")
    expect(command(pool)).toEqual(["api"])
    expect(Object.keys(dependsOn(pool)).sort()).toEqual(["migrate", "redis", "timescaledb"])
    expect(pool["ports"]).toBeUndefined()
    expect(Number((pool["deploy"] as { replicas?: number } | undefined)?.replicas)).toBeGreaterThanOrEqual(2)
    const lb = service("lb")
    // The version scripts/haproxy-check.sh validates the file with (Debian bookworm's haproxy).
    expect(lb["image"]).toBe("haproxy:2.6")
    expect(lb["volumes"]).toEqual(["./deploy/haproxy:/usr/local/etc/haproxy:ro"])
    expect((lb["ports"] as ReadonlyArray<Json>).map(scalar)).toEqual(["127.0.0.1:3002:8080"])
    const cfg = read("deploy/haproxy/haproxy.cfg")
    expect(cfg).toMatch(/^\s*bind :8080$/m)
    expect(cfg).toMatch(/^\s*server-template \S+ \d+ api-pool:3000 .*resolvers docker/m)
  })

  it("runs Kafka as one KRaft node, broker and controller, with one replica of everything", () => {
    const env = environment(service("kafka"))
    expect((env["KAFKA_PROCESS_ROLES"] ?? "").split(",").sort()).toEqual(["broker", "controller"])
    expect(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).toBe(`${env["KAFKA_NODE_ID"]}@kafka:9093`)
    expect(env["KAFKA_LISTENERS"]).toMatch(/(^|,)CONTROLLER:\/\/:9093(,|$)/)
    expect(env["KAFKA_CONTROLLER_LISTENER_NAMES"]).toBe("CONTROLLER")
    expect(env["CLUSTER_ID"]).toMatch(/^[A-Za-z0-9_-]{22}$/)
    for (const key of [
      "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
      "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
      "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
      "KAFKA_DEFAULT_REPLICATION_FACTOR",
      "KAFKA_MIN_INSYNC_REPLICAS"
    ])
      expect(env[key], key).toBe("1")
    expect(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).toBe("false")
  })

  it("advertises to other containers exactly the brokers the app is given", () => {
    const kafka = environment(service("kafka"))
    const advertised = (kafka["KAFKA_ADVERTISED_LISTENERS"] ?? "").split(",").map((l) => {
      const m = /^([A-Z_]+):\/\/(.+)$/.exec(l.trim())
      if (m === null) throw new Error(`unreadable advertised listener "${l}"`)
      return { name: m[1]!, address: m[2]! }
    })
    const listenerNames = (kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] ?? "").split(",").map((e) => e.split(":")[0])
    for (const l of advertised) expect(listenerNames, l.name).toContain(l.name)
    const inter = advertised.find((l) => l.name === kafka["KAFKA_INTER_BROKER_LISTENER_NAME"])
    expect(inter?.address).toBe("kafka:9092")
    for (const broker of (environment(service("app"))["KAFKA_BROKERS"] ?? "").split(",")) {
      expect(advertised.map((l) => l.address)).toContain(broker.trim())
    }
    // The host listener is advertised as the address the host reaches it on.
    const external = advertised.find((l) => l.address.startsWith("127.0.0.1:"))
    if (external !== undefined) {
      expect(ports(service("kafka")).map((p) => `${p.hostIp}:${p.published}`)).toContain(external.address)
    }
  })

  it("keeps the database and the Kafka log on named volumes", () => {
    const volumes = isRecord(compose) && isRecord(compose["volumes"]) ? Object.keys(compose["volumes"]) : []
    const named = (name: string) => {
      const list = service(name)["volumes"]
      return (Array.isArray(list) ? list : []).map((v) => (isRecord(v) ? String(v["source"]) : String(v).split(":")[0]))
    }
    expect(named("timescaledb").length).toBeGreaterThan(0)
    for (const name of ["timescaledb", "kafka"]) {
      for (const source of named(name)) expect(volumes, `${name} volume ${source}`).toContain(source)
    }
    const pgVolumes = service("timescaledb")["volumes"]
    expect(JSON.stringify(pgVolumes)).toContain("/var/lib/postgresql/data")
  })

  it("builds the app services from this repository's Dockerfile", () => {
    for (const name of appServices) {
      const build = service(name)["build"]
      const context = typeof build === "string" ? build : isRecord(build) ? String(build["context"] ?? ".") : ""
      const dockerfile = isRecord(build) ? String(build["dockerfile"] ?? "Dockerfile") : "Dockerfile"
      expect(existsSync(join(root, context, dockerfile)), `${name} builds ${context}/${dockerfile}`).toBe(true)
    }
  })
})

describe("Dockerfile", () => {
  const first = dockerfileStages[0] ?? []
  const final = dockerfileStages.at(-1) ?? []
  const runs = (stage: ReadonlyArray<Instruction>) => stage.filter((i) => i.keyword === "RUN").map((i) => i.args)

  it("is multi-stage on node:20-slim", () => {
    expect(dockerfileStages.length).toBeGreaterThanOrEqual(2)
    for (const stage of dockerfileStages) expect(stage[0]?.args).toMatch(/^node:20-slim(\s|$)/)
  })

  it("builds with every dependency", () => {
    expect(runs(first).join("\n")).toMatch(/npm ci(?![^\n]*--omit=dev)/)
    expect(runs(first).join("\n")).toMatch(/npm run build/)
  })

  it("ships production dependencies, dist/ and public/ in the final stage", () => {
    expect(runs(final).join("\n")).toMatch(/npm ci [^\n]*--omit=dev/)
    const copies = final.filter((i) => i.keyword === "COPY").map((i) => i.args)
    expect(
      copies.some((c) => /^--from=\S+\s+\S*dist\/?\s/.test(c)),
      "COPY --from=<build> …/dist"
    ).toBe(true)
    expect(
      copies.some((c) => /(^|\s)public\/?\s/.test(c)),
      "COPY public"
    ).toBe(true)
  })

  it("runs `node dist/main.js service` as a non-root user", () => {
    expect(execForm(final, "ENTRYPOINT")).toEqual(["node", "dist/main.js"])
    expect(execForm(final, "CMD")).toEqual(["service"])
    const user = final.filter((i) => i.keyword === "USER").at(-1)?.args
    expect(user, "USER in the final stage").toBeDefined()
    expect(user).not.toMatch(/^(root|0)(:|$)/)
  })

  it("puts main.js where the entrypoint looks for it", () => {
    const build: unknown = JSON.parse(read("tsconfig.build.json"))
    const options = isRecord(build) && isRecord(build["compilerOptions"]) ? build["compilerOptions"] : {}
    expect(options["outDir"]).toBe("dist")
    expect(options["rootDir"]).toBe("src")
    expect(existsSync(join(root, "src/main.ts"))).toBe(true)
  })
})

describe(".dockerignore", () => {
  const patterns = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"))
  const excludes = patterns.filter((p) => !p.startsWith("!")).map((p) => p.replace(/^\/+|\/+$/g, ""))
  const ignored = (path: string) =>
    excludes.some((p) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, "[^/]*")
          .replace(/\?/g, "[^/]")}(/|$)`
      ).test(path)
    )

  it("keeps local artifacts out of the build context", () => {
    for (const path of ["node_modules", "dist", ".services", ".data", ".git", ".env"])
      expect(ignored(path), path).toBe(true)
  })

  it("keeps everything the Dockerfile copies from the context", () => {
    const sources = dockerfileStages
      .flat()
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith("--"))
          .slice(0, -1)
      )
    expect(sources).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "public"]))
    for (const source of sources) expect(ignored(source.replace(/^\.\/|\/$/g, "")), `${source} is ignored`).toBe(false)
  })
})
