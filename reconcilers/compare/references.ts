// References compared as references (issue 12). `customer_ref`, `order_ref` and a payment's
// `applied_invoices` hold each system's own ids: the CRM invoice points at a CRM company id, the
// ERP invoice at an ERP customer number. Two references are equal when the records they name are
// linked to each other — by the referenced entity's links: control.xref (manual links and the key
// matches its runs recorded) and the direct keys of its staged records. A reference whose target is
// not linked yet is unverifiable, not a mismatch; a mismatch names both referenced records. A
// correction writes the target system's own id of the linked record, or is not proposed.
//
// Identical values are equal without a look-up: the content hash (mirror-layout.ts) already treats
// them so, and a system pair that shares ids (a customer number in both) simply agrees.
import { clientDb } from '../../staging/control/control-db.js';
import {
  type LinkSource,
  linkedPairs,
  type ReferencedRecord,
  referencedRecords,
} from '../../staging/control/discrepancies-evidence.js';
import type { Db } from '../../staging/database.js';
import type { Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { isEmpty, type Side } from '../actions/survivorship.js';
import { loneKey, pairKey } from '../classify/keys.js';
import type { JobContext } from '../job/job-context.js';
import type { PairDiff } from './diff-pairs.js';
import { NAME_FIELD, REFERENCES, type ReferenceField } from './reference-fields.js';
import type { MirrorRow } from './wide-rows.js';

/** What the references of one comparison pass came to. */
export interface ReferenceOutcome {
  /** Reference fields whose values differ and that are not equal as references, by `pairKey|field`. */
  verdicts: Map<string, { kind: 'mismatch' | 'unverifiable'; detail: Record<string, unknown> }>;
  /**
   * A reference value of `side` written into the other system: the linked record's own id (an
   * array for a list), or undefined when some referenced record is not linked to exactly one.
   */
  translate(field: string, side: Side, value: unknown): unknown | undefined;
  /** Lone records whose create would carry a reference that cannot be translated, by loneKey. */
  noCreate: Map<string, string>;
}

export const NO_REFERENCES: ReferenceOutcome = {
  verdicts: new Map(),
  translate: () => undefined,
  noCreate: new Map(),
};

export const verdictKey = (matchKey: string, field: string) => `${matchKey}|${field}`;

/** The ids a reference value names: [] when empty, null when it is no reference (a list that is not one). */
function idsOf(r: ReferenceField, v: unknown, nulls: readonly string[]): string[] | null {
  if (isEmpty(v, nulls)) return [];
  if (!r.list) return [String(v)];
  let parsed: unknown = v;
  if (typeof v === 'string') {
    try {
      parsed = JSON.parse(v);
    } catch {
      return null;
    }
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string' || typeof x === 'number'))
    return null;
  return [...new Set(parsed.map(String))];
}

const other = (s: Side): Side => (s === 'crm' ? 'erp' : 'crm');
const SYSTEM = { crm: 'CRM', erp: 'ERP' } as const;
/** "a CRM", "an ERP". */
const A_SYSTEM = { crm: 'a CRM', erp: 'an ERP' } as const;

/**
 * Decides the reference fields among the pairs' differing fields: equal ones leave the diffs (a
 * pair left with none leaves the pass), the others get a verdict; looks up what corrections and
 * creates need to translate a reference into the other system's id.
 */
export async function resolveReferences(
  { job, pool }: Pick<JobContext, 'job' | 'pool'>,
  diffs: readonly PairDiff[],
  lone: readonly MirrorRow[],
): Promise<{ diffs: PairDiff[]; refs: ReferenceOutcome }> {
  const entity = job.entity;
  const slice = job.config;
  const fields = REFERENCES[entity].filter((r) => slice.references?.[r.target]);
  if (!fields.length) return { diffs: [...diffs], refs: NO_REFERENCES };
  // The look-ups read another entity's staged rows and links: in the tenant's scope, like every read of a job.
  const scoped = <T>(fn: (db: Db) => Promise<T>) =>
    withTenantScope(pool, job.tenant, (client) => fn(clientDb(client)));
  const nulls = slice.entity.nullEquivalents;
  const source = (target: Entity): LinkSource => ({
    tenant: job.tenant,
    entity: target,
    crmSystem: slice.systems.crm,
    erpSystem: slice.systems.erp,
    direct: slice.references[target]!.direct,
  });

  // The questions: reference fields whose values differ and name records on both sides.
  interface Question {
    d: PairDiff;
    r: ReferenceField;
    crm: string[];
    erp: string[];
    equal?: boolean;
  }
  const questions: Question[] = [];
  /** Ids whose partners, names and dead letters are looked up, per target and side. */
  const wanted = new Map<Entity, Record<Side, Set<string>>>();
  const want = (target: Entity, side: Side, ids: readonly string[]) => {
    const w = wanted.get(target) ?? { crm: new Set<string>(), erp: new Set<string>() };
    wanted.set(target, w);
    for (const id of ids) w[side].add(id);
  };
  for (const d of diffs)
    for (const r of fields) {
      if (!d.fields.includes(r.field)) continue;
      const crm = idsOf(r, d.crm.fields[r.field], nulls);
      const erp = idsOf(r, d.erp.fields[r.field], nulls);
      if (crm === null || erp === null) continue; // not references: compared as values
      if (crm.length && erp.length) questions.push({ d, r, crm, erp });
      else {
        // One side holds none: an ordinary difference, whose correction needs the other's link.
        want(r.target, 'crm', crm);
        want(r.target, 'erp', erp);
      }
    }

  // Are the named records linked to each other? Primary-key look-ups only.
  for (const target of new Set(questions.map((q) => q.r.target))) {
    const mine = questions.filter((q) => q.r.target === target);
    const pairs = new Map<string, { crm: string; erp: string }>();
    for (const q of mine)
      for (const c of q.crm) for (const e of q.erp) pairs.set(`${c}\u0000${e}`, { crm: c, erp: e });
    const list = [...pairs.values()];
    const linked = await scoped((db) => linkedPairs(db, source(target), list));
    const isLinked = new Set(list.filter((_p, i) => linked.has(i)).map((p) => `${p.crm}\u0000${p.erp}`));
    for (const q of mine) {
      const link = (c: string, e: string) => isLinked.has(`${c}\u0000${e}`);
      q.equal =
        q.crm.length === q.erp.length &&
        q.crm.every((c) => q.erp.some((e) => link(c, e))) &&
        q.erp.every((e) => q.crm.some((c) => link(c, e)));
      if (!q.equal) {
        want(target, 'crm', q.crm);
        want(target, 'erp', q.erp);
      }
    }
  }
  // Creates copy a lone record's references: they need the other system's ids.
  if (slice.actions.createMissing && slice.actions.policy !== 'disabled')
    for (const row of lone)
      for (const r of fields) {
        const ids = idsOf(r, row.fields[r.field], nulls);
        if (ids?.length) want(r.target, row.side, ids);
      }

  const records = new Map<Entity, Record<Side, Map<string, ReferencedRecord>>>();
  for (const [target, ids] of wanted) {
    const s = source(target);
    records.set(
      target,
      await scoped(async (db) => ({
        crm: await referencedRecords(db, s, NAME_FIELD[target], 'crm', [...ids.crm]),
        erp: await referencedRecords(db, s, NAME_FIELD[target], 'erp', [...ids.erp]),
      })),
    );
  }
  const recordOf = (target: Entity, side: Side, id: string): ReferencedRecord =>
    records.get(target)?.[side].get(id) ?? { id, name: null, linkedTo: [], deadLetters: [] };

  const verdicts: ReferenceOutcome['verdicts'] = new Map();
  for (const q of questions) {
    if (q.equal) continue;
    const crm = q.crm.map((id) => recordOf(q.r.target, 'crm', id));
    const erp = q.erp.map((id) => recordOf(q.r.target, 'erp', id));
    const unlinked = [...crm, ...erp].filter((x) => !x.linkedTo.length);
    const shape = (xs: ReferencedRecord[]) => (q.r.list ? xs : xs[0]);
    const reference = { entity: q.r.target, field: q.r.field, crm: shape(crm), erp: shape(erp) };
    const deadLetters = unlinked.flatMap((x) => x.deadLetters);
    verdicts.set(verdictKey(pairKey(q.d.crm.source_id, q.d.erp.source_id), q.r.field), {
      kind: unlinked.length ? 'unverifiable' : 'mismatch',
      detail: {
        ...(unlinked.length ? { reason: 'reference_not_linked' } : {}),
        reference,
        ...(deadLetters.length ? { deadLetters } : {}),
        explanation: explain(entity, q.r.target, { crm, erp }),
      },
    });
  }

  const kept: PairDiff[] = [];
  for (const d of diffs) {
    const equal = new Set(questions.filter((q) => q.d === d && q.equal).map((q) => q.r.field));
    const left = d.fields.filter((f) => !equal.has(f));
    if (left.length === d.fields.length) kept.push(d);
    else if (left.length) kept.push({ ...d, fields: left });
  }

  const byField = new Map(fields.map((r) => [r.field, r]));
  const translate = (field: string, side: Side, value: unknown): unknown | undefined => {
    const r = byField.get(field);
    if (!r) return value;
    const ids = idsOf(r, value, nulls);
    if (ids === null) return value;
    if (!ids.length) return r.list ? [] : null;
    const out: string[] = [];
    for (const id of ids) {
      const partners = records.get(r.target)?.[side].get(id)?.linkedTo ?? [];
      if (partners.length !== 1) return undefined;
      out.push(partners[0]!);
    }
    return r.list ? out : out[0];
  };
  const noCreate = new Map<string, string>();
  if (slice.actions.createMissing)
    for (const row of lone)
      for (const r of fields) {
        if (translate(r.field, row.side, row.fields[r.field]) !== undefined) continue;
        noCreate.set(
          loneKey(row.side, row.source_id),
          `${r.field} ${String(row.fields[r.field])} names ${A_SYSTEM[row.side]} ${r.target} that is not linked to exactly one ${SYSTEM[other(row.side)]} ${r.target}`,
        );
        break;
      }
  return { diffs: kept, refs: { verdicts, translate, noCreate } };
}

/** "the CRM invoice refers to customer C-1 (Acme), linked to ERP customer E-1; the ERP invoice …" */
function explain(entity: Entity, target: Entity, sides: Record<Side, ReferencedRecord[]>): string {
  const one = (side: Side, x: ReferencedRecord) =>
    `${target} ${x.id}${x.name ? ` (${x.name})` : ''}, ${
      x.linkedTo.length
        ? `linked to ${SYSTEM[other(side)]} ${target} ${x.linkedTo.join(', ')}`
        : x.deadLetters.length
          ? `not staged (dead letter ${x.deadLetters.join(', ')})`
          : `not linked to ${A_SYSTEM[other(side)]} ${target} yet`
    }`;
  return (['crm', 'erp'] as const)
    .map(
      (side) => `the ${SYSTEM[side]} ${entity} refers to ${sides[side].map((x) => one(side, x)).join('; ')}`,
    )
    .join('; ')
    .replace(/^t/, 'T');
}
