import { Effect, Stream, SubscriptionRef } from "effect"
import type { BusError, ConsumeOptions, ConsumerEvent } from "./Bus.js"
import { bump, type Log, type Partition, partitionsOf, read } from "./MemoryLog.js"

/**
 * Consumer groups of the embedded log: the members of a group share its partitions (partition i goes to the
 * (i mod n)-th member, in join order), and a member joining or leaving moves partitions: their old owner gets
 * `Revoked`, the new one `onAssign` then `Assigned`. A lone member gets every partition.
 */

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

const groupKey = (topic: string, groupId: string) => JSON.stringify([groupId, topic])

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

/** One pass over the member's partitions; empty when there is nothing new. */
const poll = (log: Log, parts: ReadonlyArray<Partition>, member: Member) =>
  Effect.gen(function* () {
    const out: Array<ConsumerEvent> = []
    for (const [i, from] of member.owned) {
      const records = yield* read(log, parts[i]!, from)
      if (records.length > 0) {
        out.push({ _tag: "Records", partition: i, records })
        member.owned.set(i, records[records.length - 1]!.offset + 1)
      }
    }
    return out
  })

/** Claims what was assigned; what the group moved away meanwhile is revoked at once. */
const assign = <E>(parts: ReadonlyArray<Partition>, group: Group, member: Member, opts: ConsumeOptions<E>) =>
  Effect.gen(function* () {
    const assigned = [...member.gained].sort((a, b) => a - b)
    member.gained.clear()
    const start = yield* opts.onAssign(assigned)
    for (const p of assigned) {
      if (group.owner.get(p) === member) member.owned.set(p, start.get(p) ?? parts[p]!.base())
      else member.revoked.push(p)
    }
    return [{ _tag: "Assigned", partitions: assigned } as ConsumerEvent]
  })

const waitForAppend = (log: Log, seen: number) =>
  log.version.changes.pipe(
    Stream.filter((v) => v !== seen),
    Stream.take(1),
    Stream.runDrain
  )

/** A member's next events: what it lost, a rejoin after an expiry, a claim of what it gained, or records. */
const nextEvents = <E>(
  log: Log,
  parts: ReadonlyArray<Partition>,
  group: Group,
  member: Member,
  opts: ConsumeOptions<E>
) =>
  Effect.gen(function* () {
    for (;;) {
      const seen = yield* SubscriptionRef.get(log.version)
      if (member.revoked.length > 0) return [{ _tag: "Revoked", partitions: member.revoked.splice(0) } as ConsumerEvent]
      if (member.expired) {
        member.expired = false
        group.members.push(member)
        rebalance(group)
        yield* bump(log)
        continue
      }
      if (member.gained.size > 0) return yield* assign(parts, group, member, opts)
      const events = yield* poll(log, parts, member)
      if (events.length > 0) return events
      yield* waitForAppend(log, seen)
    }
  })

export const makeGroups = (log: Log) => {
  const groups = new Map<string, Group>()

  const consumeAs = <E>(label: string | undefined, opts: ConsumeOptions<E>) =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const parts = yield* partitionsOf(log, opts.topic)
        const key = groupKey(opts.topic, opts.groupId)
        const group: Group = groups.get(key) ?? { partitions: parts.length, members: [], owner: new Map() }
        groups.set(key, group)
        const member: Member = { label, owned: new Map(), gained: new Set(), revoked: [], expired: false }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            group.members.push(member)
            rebalance(group)
          }).pipe(Effect.zipRight(bump(log))),
          () => Effect.sync(() => leave(group, member)).pipe(Effect.zipRight(bump(log)))
        )
        return Stream.repeatEffect(nextEvents(log, parts, group, member, opts)).pipe(Stream.flattenIterables)
      })
    )

  const expire = (topic: string, groupId: string, label: string) =>
    Effect.suspend(() => {
      const group = groups.get(groupKey(topic, groupId))
      const member = group?.members.find((m) => m.label === label)
      if (group === undefined || member === undefined) return Effect.succeed(false)
      member.expired = true
      leave(group, member)
      return Effect.as(bump(log), true)
    })

  const assignment = (topic: string, groupId: string) =>
    new Map([...(groups.get(groupKey(topic, groupId))?.owner ?? [])].map(([p, m]) => [p, m.label] as const))

  return { consumeAs, expire, assignment }
}
