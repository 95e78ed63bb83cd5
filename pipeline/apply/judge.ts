// What to do with each approved action of a batch, decided just before the write: hold it (the
// policy's limits, segregation of duties), refuse it (a field the writer cannot write, a record
// its external id does not reach), skip it as stale (the record changed since reconciliation saw
// it: the staged version moved on, or the system's record did — read now), or write it. The same
// verdicts are the dry-run's plan. docs/apply.md, "What is applied".
import type { AutoApproveLimits } from '../../staging/model/tenant-config.js';
import type { CanonicalWrite, ConnectorWriter, CurrentRecord } from '../connectors/contract.js';
import { instantMicros, sameFieldValue } from '../connectors/postgres/canonical-equal.js';
import { type Candidate, compareDecimal, type StagedTarget } from './select-actions.js';

export type Verdict =
  | { do: 'write'; write: CanonicalWrite; before: Record<string, unknown> | null; dropped: string[] }
  | { do: 'stale'; reason: string; before: Record<string, unknown> | null }
  | { do: 'refuse'; reason: string; before?: Record<string, unknown> | null }
  | { do: 'hold'; reason: string };

export interface JudgeContext {
  tenant: string;
  /** Who applies (the CLI's --by, or the policy). */
  by: string;
  limits: AutoApproveLimits;
  requireDistinctApprover: boolean;
  /** Action ids named on the command line: a person chose them. */
  named: ReadonlySet<string>;
  /** Fields each entity's compare ignores: a create may leave them out when the target cannot hold them. */
  ignored: (entity: string) => ReadonlySet<string>;
  /** Staged versions that are trueup's own echo, by target id. */
  echoes: ReadonlyMap<string, ReadonlySet<string>>;
}

const LINKS = new Set(['crm_ref', 'erp_ref']);
const POLICY = 'policy:';

/** Why the policy's approval does not cover this action, or null. */
export function beyondLimits(c: Candidate, limits: AutoApproveLimits): string | null {
  const why: string[] = [];
  if (limits.entities && !limits.entities.includes(c.entity))
    why.push(`entity ${c.entity} is not among ${limits.entities.join(', ')}`);
  if (limits.fields) {
    const outside = Object.keys(c.fields).filter((f) => !LINKS.has(f) && !limits.fields!.includes(f));
    if (outside.length)
      why.push(
        `field${outside.length > 1 ? 's' : ''} ${outside.join(', ')} not among ${limits.fields.join(', ')}`,
      );
  }
  if (
    limits.maxMoneyImpact !== undefined &&
    c.moneyImpact !== null &&
    compareDecimal(c.moneyImpact, limits.maxMoneyImpact) > 0
  )
    why.push(`money impact ${c.moneyImpact} is above ${limits.maxMoneyImpact}`);
  return why.length ? why.join('; ') : null;
}

/** Why the action must wait for a person (left approved), or null. */
export function holdReason(c: Candidate, ctx: JudgeContext): string | null {
  const byPolicy = c.decidedBy?.startsWith(POLICY) ?? false;
  if (byPolicy) {
    const beyond = beyondLimits(c, ctx.limits);
    if (beyond && !ctx.named.has(c.id))
      return `approved by the policy beyond its limits (${beyond}); a person applies it by naming it (--ids ${c.id})`;
  }
  if (ctx.requireDistinctApprover) {
    const approver = byPolicy ? (ctx.named.has(c.id) ? ctx.by : null) : c.decidedBy;
    if (approver && c.vouchedBy.includes(approver))
      return `segregation of duties: ${approver} approved it and also accepted a discrepancy of these records or linked them`;
    if (c.vouchedBy.includes(ctx.by))
      return `segregation of duties: ${ctx.by} applies it and also accepted a discrepancy of these records or linked them`;
  }
  return null;
}

/** The fields to write, the ignored ones a create leaves out, or why the writer cannot write it. */
function writable(
  c: Candidate,
  writer: ConnectorWriter,
  ctx: JudgeContext,
): { fields: Record<string, unknown>; dropped: string[] } | { refuse: string } {
  const bad = writer.unwritable?.(c.entity, Object.keys(c.fields)) ?? [];
  const ignored = ctx.ignored(c.entity);
  const dropped = c.kind === 'create' ? bad.filter((b) => ignored.has(b.field)).map((b) => b.field) : [];
  const refused = bad.filter((b) => !dropped.includes(b.field));
  if (refused.length)
    return {
      refuse: `tenant ${ctx.tenant}, system ${c.targetSystem}, entity ${c.entity}: ${refused
        .map((b) => `field ${b.field} ${b.reason}`)
        .join('; ')}`,
    };
  const fields = { ...c.fields };
  for (const f of dropped) delete fields[f];
  return { fields, dropped };
}

/** How the record now differs from the version reconciliation saw, or null. */
export function drift(c: Candidate, live: CurrentRecord, staged: StagedTarget): string | null {
  if (live.version !== null)
    return live.version > BigInt(staged.version)
      ? `changed in ${c.targetSystem} at ${live.sourceUpdatedAt ?? '?'} (version ${live.version}) after the version reconciliation saw (${staged.version})`
      : null;
  if (live.sourceUpdatedAt && staged.sourceUpdatedAt)
    return instantMicros(live.sourceUpdatedAt) !== instantMicros(staged.sourceUpdatedAt)
      ? `changed in ${c.targetSystem} at ${live.sourceUpdatedAt}; reconciliation saw ${staged.sourceUpdatedAt}`
      : null;
  const changed = Object.keys(live.fields).filter(
    (f) => f in staged.fields && !sameFieldValue(c.entity, f, live.fields[f], staged.fields[f]),
  );
  return changed.length ? `${changed.join(', ')} changed in ${c.targetSystem} since reconciliation` : null;
}

const pick = (fields: Record<string, unknown>, names: readonly string[]) =>
  Object.fromEntries(names.map((n) => [n, fields[n] ?? null]));

/** The verdicts of a batch (one target system and entity), in order; reads the records now. */
export async function judge(
  batch: readonly Candidate[],
  writer: ConnectorWriter,
  ctx: JudgeContext,
): Promise<Verdict[]> {
  const out: (Verdict | undefined)[] = batch.map(() => undefined);
  const fieldsOf = new Map<Candidate, { fields: Record<string, unknown>; dropped: string[] }>();
  batch.forEach((c, i) => {
    const hold = holdReason(c, ctx);
    if (hold) {
      out[i] = { do: 'hold', reason: hold };
      return;
    }
    const w = writable(c, writer, ctx);
    if ('refuse' in w) {
      out[i] = { do: 'refuse', reason: `${w.refuse}; the action was not applied` };
      return;
    }
    fieldsOf.set(c, w);
    if (c.kind === 'upsert') {
      const s = c.staged;
      if (!s || s.deleted)
        out[i] = { do: 'stale', reason: `${c.targetSystem}:${c.targetId} was deleted`, before: null };
      else if (s.version !== c.observedVersion && !s.ownEcho && !ctx.echoes.get(c.targetId!)?.has(s.version))
        out[i] = {
          do: 'stale',
          reason: `${c.targetSystem}:${c.targetId} changed since reconciliation (staged version ${s.version}, reconciliation saw ${c.observedVersion})`,
          before: null,
        };
    }
  });
  // Read now: the open ones, and the refused upserts (the dry-run shows their current values too).
  const open = batch
    .map((c, i) => ({ c, i }))
    .filter((x) => !out[x.i] || (out[x.i]!.do === 'refuse' && x.c.kind === 'upsert'));
  const live =
    open.length && writer.read
      ? await writer.read(
          open[0]!.c.entity,
          open.map((x) => x.c),
        )
      : [];
  open.forEach(({ c, i }, k) => {
    const now = live[k];
    const refused = out[i];
    if (refused?.do === 'refuse') {
      refused.before = now?.found ? pick(now.fields, Object.keys(c.fields)) : null;
      return;
    }
    const { fields, dropped } = fieldsOf.get(c)!;
    const before = now?.found ? pick(now.fields, Object.keys(fields)) : null;
    if (c.kind === 'create') {
      out[i] = now?.found
        ? {
            do: 'stale',
            reason: `${c.targetSystem} holds a record with external id ${c.key} now (${now.id}): created since reconciliation`,
            before,
          }
        : {
            do: 'write',
            write: { key: c.key, fields, targetId: null, idempotencyKey: c.idempotencyKey },
            before,
            dropped,
          };
      return;
    }
    const staged = c.staged!;
    if (now && !now.found) {
      out[i] = {
        do: 'stale',
        reason: `${c.targetSystem} has no record with external id ${c.key} now`,
        before,
      };
      return;
    }
    if (now && now.id !== c.targetId) {
      out[i] = {
        do: 'refuse',
        reason: `tenant ${ctx.tenant}, system ${c.targetSystem}, entity ${c.entity}: external id ${c.key} reaches record ${now.id}, not ${c.targetId} (the record was matched without holding that id); the action was not applied`,
      };
      return;
    }
    const moved = now ? drift(c, now, staged) : null;
    out[i] = moved
      ? { do: 'stale', reason: moved, before }
      : {
          do: 'write',
          write: {
            key: c.key,
            fields,
            targetId: c.targetId,
            idempotencyKey: c.idempotencyKey,
            expected: { fields: staged.fields, sourceUpdatedAt: staged.sourceUpdatedAt },
          },
          before,
          dropped,
        };
  });
  return out as Verdict[];
}
