// What the apply step works on: a tenant's approved actions (by a reviewer or by the policy), each
// with the key its write goes by, the target record as staging holds it now (what reconciliation
// saw, or our own echo since), and what the policy and segregation of duties ask about it (the
// money impact of the discrepancies it corrects, who accepted discrepancies of the same records,
// who linked them by hand). Reads only.
import type pg from 'pg';
import { quoteIdent } from '../../staging/identifiers.js';
import type { Entity } from '../../staging/model/entities.js';
import { ORIGIN_TAG } from '../connectors/postgres/writer.js';

export type Side = 'crm' | 'erp';

/** The target record as staged now. */
export interface StagedTarget {
  version: string;
  deleted: boolean;
  /** UTC ISO 8601 with microseconds. */
  sourceUpdatedAt: string | null;
  /** Canonical fields as text (null where null). */
  fields: Record<string, unknown>;
  /** The staged change came from trueup's own write (the Postgres writer's origin tag). */
  ownEcho: boolean;
}

export interface Candidate {
  id: string;
  runId: string;
  entity: Entity;
  kind: 'upsert' | 'create';
  targetSystem: string;
  targetSide: Side;
  targetId: string | null;
  /** The external id the write goes by: the other system's id of the record. */
  key: string;
  fields: Record<string, unknown>;
  explanation: Record<string, unknown>;
  observedVersion: string | null;
  idempotencyKey: string;
  decidedBy: string | null;
  /** The discrepancies' match key: the pair (upsert) or the record copied (create). */
  matchKey: string;
  /** The record ids of the pair or lone record, by side. */
  ids: { crm: string | null; erp: string | null };
  staged: StagedTarget | null;
  /** Largest money impact among the discrepancies it corrects (decimal text), if any. */
  moneyImpact: string | null;
  /** Who accepted a discrepancy of the same records, or linked them by hand. */
  vouchedBy: string[];
}

export interface Selection {
  tenant: string;
  systems: { crm: string; erp: string };
  entity?: Entity;
  ids?: readonly string[];
  target?: string;
}

interface ActionRow {
  id: string;
  run_id: string;
  entity: Entity;
  kind: 'upsert' | 'create';
  target_system: string;
  target_id: string | null;
  fields: Record<string, unknown>;
  explanation: Record<string, unknown>;
  observed_version: string | null;
  idempotency_key: string;
  decided_by: string | null;
}

/** The pair's ids from a match key `C:<crm>|E:<erp>`, given the target's own id on its side. */
function pairIds(matchKey: string, side: Side, targetId: string): { crm: string; erp: string } | null {
  if (side === 'crm') {
    const head = `C:${targetId}|E:`;
    return matchKey.startsWith(head) ? { crm: targetId, erp: matchKey.slice(head.length) } : null;
  }
  const tail = `|E:${targetId}`;
  return matchKey.startsWith('C:') && matchKey.endsWith(tail)
    ? { crm: matchKey.slice(2, matchKey.length - tail.length), erp: targetId }
    : null;
}

/** A candidate's key and ids, or why the action cannot say which record it writes. */
function addressOf(
  a: ActionRow,
  side: Side,
): { key: string; matchKey: string; ids: Candidate['ids'] } | { problem: string } {
  if (a.kind === 'create') {
    const source = a.explanation.source as { id?: unknown } | undefined;
    if (typeof source?.id !== 'string') return { problem: 'the create names no source record' };
    const from: Side = side === 'crm' ? 'erp' : 'crm';
    return {
      key: source.id,
      matchKey: from === 'crm' ? `C:${source.id}` : `E:${source.id}`,
      ids: { crm: from === 'crm' ? source.id : null, erp: from === 'erp' ? source.id : null },
    };
  }
  const matchKey = typeof a.explanation.matchKey === 'string' ? a.explanation.matchKey : '';
  const pair = a.target_id ? pairIds(matchKey, side, a.target_id) : null;
  if (!pair)
    return { problem: `the upsert's match key ${JSON.stringify(matchKey)} does not name its target` };
  return { key: side === 'crm' ? pair.erp : pair.crm, matchKey, ids: pair };
}

/** Approved actions of the selection, oldest first, with what applying them needs; and those that name no record. */
export async function selectApproved(
  db: pg.Pool | pg.ClientBase,
  sel: Selection,
): Promise<{ candidates: Candidate[]; unaddressable: { id: string; problem: string }[] }> {
  const res = await db.query<ActionRow>(
    `SELECT id::text, run_id, entity, kind, target_system, target_id, fields, explanation,
            observed_version::text AS observed_version, idempotency_key, decided_by
       FROM control.actions
      WHERE tenant_id = $1 AND status = 'approved'
        AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR target_system = $3)
        AND ($4::bigint[] IS NULL OR id = ANY($4::bigint[]))
      ORDER BY id`,
    [sel.tenant, sel.entity ?? null, sel.target ?? null, sel.ids ?? null],
  );
  const candidates: Candidate[] = [];
  const unaddressable: { id: string; problem: string }[] = [];
  for (const a of res.rows) {
    const side: Side | null =
      a.target_system === sel.systems.crm ? 'crm' : a.target_system === sel.systems.erp ? 'erp' : null;
    if (!side) {
      unaddressable.push({ id: a.id, problem: `${a.target_system} is not the tenant's CRM or ERP system` });
      continue;
    }
    const at = addressOf(a, side);
    if ('problem' in at) {
      unaddressable.push({ id: a.id, problem: at.problem });
      continue;
    }
    candidates.push({
      id: a.id,
      runId: a.run_id,
      entity: a.entity,
      kind: a.kind,
      targetSystem: a.target_system,
      targetSide: side,
      targetId: a.target_id,
      key: at.key,
      fields: a.fields,
      explanation: a.explanation,
      observedVersion: a.observed_version,
      idempotencyKey: a.idempotency_key,
      decidedBy: a.decided_by,
      matchKey: at.matchKey,
      ids: at.ids,
      staged: null,
      moneyImpact: null,
      vouchedBy: [],
    });
  }
  await addStaged(db, sel.tenant, candidates);
  await addReview(db, sel.tenant, candidates);
  return { candidates, unaddressable };
}

/** The staged target rows of the upserts. */
async function addStaged(db: pg.Pool | pg.ClientBase, tenant: string, list: Candidate[]): Promise<void> {
  const groups = new Map<string, Candidate[]>();
  for (const c of list)
    if (c.targetId !== null) {
      const g = `${c.entity}\0${c.targetSystem}`;
      groups.set(g, [...(groups.get(g) ?? []), c]);
    }
  for (const group of groups.values()) {
    const { entity, targetSystem } = group[0]!;
    const res = await db.query<{
      source_id: string;
      version: string;
      deleted: boolean;
      upd: string | null;
      echo: boolean;
      fields: Record<string, unknown>;
    }>(
      `SELECT s.source_id, s.version::text AS version, s.deleted_at IS NOT NULL AS deleted,
              to_char(s.source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS upd,
              s.raw ? $4 AS echo,
              (SELECT coalesce(jsonb_object_agg(e.k, e.v), '{}') FROM jsonb_each_text(to_jsonb(s)
                 - ARRAY['tenant_id', 'system', 'source_id', 'raw', 'version', 'source_updated_at', 'deleted_at',
                         'mapping_version', 'staged_seq', 'staged_at']) AS e(k, v)) AS fields
         FROM staging.${quoteIdent(entity)} s
        WHERE s.tenant_id = $1 AND s.system = $2 AND s.source_id = ANY($3::text[])`,
      [tenant, targetSystem, group.map((c) => c.targetId), ORIGIN_TAG],
    );
    const byId = new Map(res.rows.map((r) => [r.source_id, r]));
    for (const c of group) {
      const r = byId.get(c.targetId!);
      if (r)
        c.staged = {
          version: r.version,
          deleted: r.deleted,
          sourceUpdatedAt: r.upd,
          fields: r.fields,
          ownEcho: r.echo,
        };
    }
  }
}

/** Money impact of the corrected discrepancies, and who vouched for the records (accepted, linked). */
async function addReview(db: pg.Pool | pg.ClientBase, tenant: string, list: Candidate[]): Promise<void> {
  if (!list.length) return;
  const disc = await db.query<{
    entity: string;
    match_key: string;
    field: string;
    class: string;
    impact: string | null;
    accepted_by: string | null;
  }>(
    `SELECT entity, match_key, field, class, abs(money_impact)::text AS impact, accepted_by
       FROM control.discrepancies WHERE tenant_id = $1 AND match_key = ANY($2::text[])`,
    [tenant, [...new Set(list.map((c) => c.matchKey))]],
  );
  const links = await db.query<{ entity: string; crm_id: string; erp_id: string; created_by: string }>(
    `SELECT entity, crm_id, erp_id, created_by FROM control.xref
      WHERE tenant_id = $1 AND origin = 'manual' AND created_by IS NOT NULL
        AND (crm_id = ANY($2::text[]) OR erp_id = ANY($3::text[]))`,
    [
      tenant,
      list.flatMap((c) => (c.ids.crm ? [c.ids.crm] : [])),
      list.flatMap((c) => (c.ids.erp ? [c.ids.erp] : [])),
    ],
  );
  for (const c of list) {
    const mine = disc.rows.filter((d) => d.entity === c.entity && d.match_key === c.matchKey);
    const corrected = mine.filter((d) =>
      c.kind === 'create' ? d.class.startsWith('missing_in_') : d.field in c.fields,
    );
    c.moneyImpact = maxDecimal(corrected.map((d) => d.impact));
    const linkers = links.rows.filter(
      (l) =>
        l.entity === c.entity &&
        ((c.ids.crm !== null && l.crm_id === c.ids.crm) || (c.ids.erp !== null && l.erp_id === c.ids.erp)),
    );
    c.vouchedBy = [
      ...new Set([
        ...mine.flatMap((d) => (d.accepted_by ? [d.accepted_by] : [])),
        ...linkers.map((l) => l.created_by),
      ]),
    ];
  }
}

/** The largest of non-negative decimal texts (null when none). */
export function maxDecimal(values: readonly (string | null)[]): string | null {
  let best: string | null = null;
  for (const v of values) if (v !== null && (best === null || compareDecimal(v, best) > 0)) best = v;
  return best;
}

/** Compares two decimal texts exactly (-1, 0, 1). */
export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(fracDigits(a), fracDigits(b));
  const x = scaled(a, scale);
  const y = scaled(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

function fracDigits(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function scaled(s: string, scale: number): bigint {
  const negative = s.trim().startsWith('-');
  const [whole = '0', frac = ''] = s.trim().replace(/^[-+]/, '').split('.');
  const v = BigInt((whole || '0') + frac.padEnd(scale, '0'));
  return negative ? -v : v;
}
