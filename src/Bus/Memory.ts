import { Clock, Effect, Layer, Option, Stream, SubscriptionRef } from "effect"
import { Bus, BusError, type BusRecord, type ConsumeOptions, type ConsumerEvent } from "./Bus.js"
import { partitionFor } from "./Partitioner.js"

/**
 * The embedded bus: an in-memory partitioned log with Kafka's semantics where they matter here:
 * key → partition by murmur2, per-partition offsets, retention of the newest `retention` records
 * (a consumer behind it resumes at the earliest retained offset), committed group offsets, and consumer groups:
 * the members of a group share its partitions (partition i goes to the (i mod n)-th member, in join order), and a
 * member joining or leaving moves partitions: their old owner gets `Revoked`, the new one `onAssign` then `Assigned`.
 * A lone member gets every partition, as before groups existed.
 */
export interface MemoryBusOptions {
  /** Records kept per partition. */
  readonly retention?: number
  /** Records handed to the consumer at once. */
  readonly maxBatch?: number
}

interface Partition {
  base: number // offset of records[0]
  records: Array<BusRecord>
}

interface Member {
  readonly label: string | undefined
  /** Partitions being read → the next offset to hand out. */
  readonly owned: Map<number, number>
  /** Assigned, not yet claimed (`onAssign`). */
  readonly gained: Set<number>
  /** Taken away, not yet told. */
  readonly revoked: Array<number>
  /** Put out of the group without being asked (presumed dead); it rejoins once it has been told. */
  expired: boolean
}

interface Group {
  readonly partitions: number
  readonly members: Array<Member>
  /** partition → the member it is assigned to */
  readonly owner: Map<number, Member>
}

/** For tests: a group's members as the bus sees them, and a way to move partitions without their owner's consent. */
export interface MemoryGroups {
  /** Joins the group as a member named `label` (what `consume` does, unnamed). */
  readonly consumeAs: <E>(label: string, options: ConsumeOptions<E>) => Stream.Stream<ConsumerEvent, BusError | E>
  /**
   * As a group coordinator does with a member whose session timed out: its partitions go to the other members at
   * once; it learns it lost them (`Revoked`) when it next reads, and then rejoins. False when no such member.
   */
  readonly expire: (topic: string, groupId: string, label: string) => Effect.Effect<boolean>
  /** partition → the label of the member it is assigned to. */
  readonly assignment: (topic: string, groupId: string) => ReadonlyMap<number, string | undefined>
}

export const makeWithGroups = (options: MemoryBusOptions = {}) =>
  Effect.gen(function* () {
    const retention = options.retention ?? 200_000
    const maxBatch = options.maxBatch ?? 500
    const topics = new Map<string, Array<Partition>>()
    const committed = new Map<string, Map<number, number>>()
    // Bumped on every append so idle consumers wake up.
    const version = yield* SubscriptionRef.make(0)

    const partitionsOf = (topic: string) =>
      Option.fromNullable(topics.get(topic)).pipe(
        Effect.mapError(() => new BusError({ reason: "admin", message: `unknown topic ${topic}` }))
      )

    const ensureTopic = (topic: string, partitions: number) =>
      Effect.sync(() => {
        if (!topics.has(topic)) {
          topics.set(
            topic,
            Array.from({ length: partitions }, () => ({ base: 0, records: [] }))
          )
        }
      })

    const publish = (topic: string, messages: ReadonlyArray<{ readonly key: string; readonly value: string }>) =>
      Effect.gen(function* () {
        const parts = yield* partitionsOf(topic)
        const now = yield* Clock.currentTimeMillis
        for (const m of messages) {
          const partition = partitionFor(m.key, parts.length)
          const p = parts[partition]!
          p.records.push({
            topic,
            partition,
            offset: p.base + p.records.length,
            key: m.key,
            value: m.value,
            timestamp: now
          })
          if (p.records.length > retention * 1.25) {
            const drop = p.records.length - retention
            p.records.splice(0, drop)
            p.base += drop
          }
        }
        yield* SubscriptionRef.update(version, (n) => n + 1)
      })

    const read = (p: Partition, from: number): ReadonlyArray<BusRecord> => {
      const start = Math.max(from, p.base) - p.base
      return p.records.slice(start, start + maxBatch)
    }

    const groups = new Map<string, Group>()
    const groupKey = (topic: string, groupId: string) => JSON.stringify([groupId, topic])
    const bump = SubscriptionRef.update(version, (n) => n + 1)

    /** Deals the partitions out again; a moved partition is revoked from its old owner and assigned to the new. */
    const rebalance = (group: Group) => {
      for (let p = 0; p < group.partitions; p++) {
        const next = group.members.length > 0 ? group.members[p % group.members.length] : undefined
        const prev = group.owner.get(p)
        if (prev === next) continue
        if (prev !== undefined) {
          if (prev.owned.delete(p)) prev.revoked.push(p)
          prev.gained.delete(p)
        }
        if (next === undefined) group.owner.delete(p)
        else {
          group.owner.set(p, next)
          next.gained.add(p)
        }
      }
    }
    const leave = (group: Group, member: Member) => {
      const i = group.members.indexOf(member)
      if (i >= 0) group.members.splice(i, 1)
      rebalance(group)
    }

    const consumeAs = <E>(label: string | undefined, opts: ConsumeOptions<E>) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const parts = yield* partitionsOf(opts.topic)
          const key = groupKey(opts.topic, opts.groupId)
          const group: Group = groups.get(key) ?? { partitions: parts.length, members: [], owner: new Map() }
          groups.set(key, group)
          const member: Member = { label, owned: new Map(), gained: new Set(), revoked: [], expired: false }
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              group.members.push(member)
              rebalance(group)
            }).pipe(Effect.zipRight(bump)),
            () => Effect.sync(() => leave(group, member)).pipe(Effect.zipRight(bump))
          )

          // One pass over the owned partitions; empty when there is nothing new.
          const poll = Effect.sync(() => {
            const out: Array<ConsumerEvent> = []
            for (const [i, from] of member.owned) {
              const records = read(parts[i]!, from)
              if (records.length > 0) {
                out.push({ _tag: "Records", partition: i, records })
                member.owned.set(i, records[records.length - 1]!.offset + 1)
              }
            }
            return out
          })
          /** Claims what was assigned; what the group moved away meanwhile is revoked at once. */
          const assign = Effect.gen(function* () {
            const assigned = [...member.gained].sort((a, b) => a - b)
            member.gained.clear()
            const start = yield* opts.onAssign(assigned)
            for (const p of assigned) {
              if (group.owner.get(p) === member) member.owned.set(p, start.get(p) ?? parts[p]!.base)
              else member.revoked.push(p)
            }
            return [{ _tag: "Assigned", partitions: assigned } as ConsumerEvent]
          })
          const waitForAppend = (seen: number) =>
            version.changes.pipe(
              Stream.filter((v) => v !== seen),
              Stream.take(1),
              Stream.runDrain
            )

          const nextEvents = Effect.gen(function* () {
            for (;;) {
              const seen = yield* SubscriptionRef.get(version)
              if (member.revoked.length > 0)
                return [{ _tag: "Revoked", partitions: member.revoked.splice(0) } as ConsumerEvent]
              if (member.expired) {
                member.expired = false
                group.members.push(member)
                rebalance(group)
                yield* bump
                continue
              }
              if (member.gained.size > 0) return yield* assign
              const events = yield* poll
              if (events.length > 0) return events
              yield* waitForAppend(seen)
            }
          })
          return Stream.repeatEffect(nextEvents).pipe(Stream.flattenIterables)
        })
      )
    const consume: Bus["Type"]["consume"] = (opts) => consumeAs(undefined, opts)

    const expire = (topic: string, groupId: string, label: string) =>
      Effect.suspend(() => {
        const group = groups.get(groupKey(topic, groupId))
        const member = group?.members.find((m) => m.label === label)
        if (group === undefined || member === undefined) return Effect.succeed(false)
        member.expired = true
        leave(group, member)
        return Effect.as(bump, true)
      })

    const assignment = (topic: string, groupId: string) =>
      new Map([...(groups.get(groupKey(topic, groupId))?.owner ?? [])].map(([p, m]) => [p, m.label] as const))

    const commitOffsets: Bus["Type"]["commitOffsets"] = (topic, groupId, offsets) =>
      Effect.sync(() => {
        const key = `${groupId}/${topic}`
        const m = committed.get(key) ?? new Map<number, number>()
        for (const o of offsets) m.set(o.partition, o.offset)
        committed.set(key, m)
      })

    const endOffsets = (topic: string) =>
      Effect.map(partitionsOf(topic), (parts) => new Map(parts.map((p, i) => [i, p.base + p.records.length] as const)))

    const groupsControl: MemoryGroups = { consumeAs, expire, assignment }
    return {
      bus: Bus.of({ kind: "memory", ensureTopic, publish, consume, commitOffsets, endOffsets }),
      groups: groupsControl
    }
  })

export const make = (options: MemoryBusOptions = {}) => Effect.map(makeWithGroups(options), ({ bus }) => bus)

export const layer = (options?: MemoryBusOptions) => Layer.effect(Bus, make(options))
