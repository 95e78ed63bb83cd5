// The corrections behind a report's discrepancies: for each discrepancy the latest action that
// would correct it — for a field mismatch, the upsert of that pair that sets the field; for a
// record missing on one side, the create that copies it — with survivorship's golden value, rule
// and winning side from the action's explanation. An undecided action (proposed, approved) wins
// over a decided one, then the newest. Duplicate matches, deleted records and fields that only
// report (`report_only`) get none.
import type { Entity } from '../staging/model/entities.js';
import type { LoadedDiscrepancy, Queryable } from './load-discrepancies.js';
import type { GoldenValue, ReportAction, ReportDiscrepancy, Side } from './report-model.js';

interface ActionRow {
  id: string;
  run_id: string;
  entity: string;
  target_system: string;
  target_id: string | null;
  kind: string;
  /** As text: reports print it as JSON, parsing it would only cost time. */
  fields: string | null;
  explanation: {
    matchKey?: string | null;
    fields?:
      | {
          field: string;
          rule: string;
          owner?: string;
          comparator?: string;
          winner?: Side;
          golden?: unknown;
        }[]
      | null;
    reason?: string | null;
    source?: { system: string; id: string } | null;
  } | null;
  observed_version: string | null;
  status: string;
  decided_by: string | null;
  decided_at: Date | null;
  error: string | null;
  created_at: Date;
}

const LIVE = new Set(['proposed', 'approved']);

const fieldKey = (entity: string, matchKey: string, field: string) =>
  `f\u0000${entity}\u0000${matchKey}\u0000${field}`;
const createKey = (entity: string, system: string, id: string) =>
  `c\u0000${entity}\u0000${system}\u0000${id}`;

function whyOf(r: ActionRow): string {
  const x = r.explanation ?? {};
  if (r.kind === 'create')
    return `${x.reason ?? 'missing'}${x.source ? ` (copy of ${x.source.system}:${x.source.id})` : ''}`;
  return (x.fields ?? [])
    .map((f) => `${f.field}: ${f.rule}${f.owner ? ` (owner ${f.owner})` : ''} → ${f.winner ?? '?'}`)
    .join('; ');
}

function toAction(r: ActionRow): ReportAction {
  return {
    id: r.id,
    entity: r.entity,
    runId: r.run_id,
    kind: r.kind,
    targetSystem: r.target_system,
    targetId: r.target_id,
    matchKey: r.explanation?.matchKey ?? null,
    source: r.explanation?.source ?? null,
    fields: r.fields ?? '{}',
    why: whyOf(r),
    observedVersion: r.observed_version,
    status: r.status,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    error: r.error,
    createdAt: r.created_at,
  };
}

/**
 * Links each discrepancy to its latest correcting action and returns the discrepancies with
 * their golden values, and the linked actions (each once, in id order).
 */
export async function linkActions(
  db: Queryable,
  opts: { tenant: string; systems: { crm: string; erp: string }; entities: readonly Entity[] },
  found: readonly LoadedDiscrepancy[],
): Promise<{ discrepancies: ReportDiscrepancy[]; actions: ReportAction[] }> {
  const pairKeys = [...new Set(found.filter((d) => d.class === 'field_mismatch').map((d) => d.matchKey))];
  const sourceIds = [
    ...new Set(
      found.flatMap((d) =>
        d.class === 'missing_in_erp' && d.crmId
          ? [d.crmId]
          : d.class === 'missing_in_crm' && d.erpId
            ? [d.erpId]
            : [],
      ),
    ),
  ];
  const { rows } =
    pairKeys.length + sourceIds.length
      ? await db.query<ActionRow>(
          `SELECT a.id::text, a.run_id, a.entity, a.target_system, a.target_id, a.kind, a.fields::text AS fields,
                -- Without the two sides' values (the discrepancy has them): a third of the bytes.
                jsonb_build_object('matchKey', a.explanation->'matchKey', 'reason', a.explanation->'reason',
                  'source', a.explanation->'source',
                  'fields', (SELECT jsonb_agg(f - 'crm' - 'erp') FROM jsonb_array_elements(a.explanation->'fields') f)
                ) AS explanation,
                a.observed_version::text, a.status, a.decided_by, a.decided_at, a.error, a.created_at
           FROM control.actions a
          WHERE a.tenant_id = $1 AND a.entity = ANY($2::text[])
            AND ((a.kind = 'upsert' AND a.explanation->>'matchKey' = ANY($3::text[]))
              OR (a.kind = 'create' AND a.explanation->'source'->>'id' = ANY($4::text[])))
          ORDER BY a.id`,
          [opts.tenant, opts.entities, pairKeys, sourceIds],
        )
      : { rows: [] as ActionRow[] };
  const best = new Map<string, { row: ActionRow; golden: GoldenValue }>();
  const offer = (key: string, row: ActionRow, golden: GoldenValue) => {
    const had = best.get(key);
    // Rows come in id order: a newer one replaces, except a decided one over an undecided one.
    if (!had || LIVE.has(row.status) || !LIVE.has(had.row.status)) best.set(key, { row, golden });
  };
  for (const r of rows) {
    const x = r.explanation ?? {};
    if (r.kind === 'upsert' && x.matchKey)
      for (const f of x.fields ?? [])
        offer(fieldKey(r.entity, x.matchKey, f.field), r, {
          value: f.golden ?? null,
          rule: f.rule,
          winner: f.winner ?? null,
          comparator: f.comparator ?? null,
        });
    if (r.kind === 'create' && x.source) {
      const side: Side | null =
        x.source.system === opts.systems.crm ? 'crm' : x.source.system === opts.systems.erp ? 'erp' : null;
      offer(createKey(r.entity, x.source.system, x.source.id), r, {
        value: null,
        rule: 'create_missing',
        winner: side,
        comparator: null,
      });
    }
  }
  const linked = new Map<string, ActionRow>();
  const discrepancies = found.map((d): ReportDiscrepancy => {
    const key =
      d.class === 'field_mismatch'
        ? fieldKey(d.entity, d.matchKey, d.field)
        : d.class === 'missing_in_erp' && d.crmId
          ? createKey(d.entity, opts.systems.crm, d.crmId)
          : d.class === 'missing_in_crm' && d.erpId
            ? createKey(d.entity, opts.systems.erp, d.erpId)
            : null;
    const hit = key ? best.get(key) : undefined;
    if (hit) linked.set(hit.row.id, hit.row);
    return {
      ...d,
      golden: hit?.golden ?? null,
      actionId: hit?.row.id ?? null,
      actionStatus: hit?.row.status ?? null,
    };
  });
  // Ids are bigints as text: shorter is smaller, then by text.
  const byId = (a: ActionRow, b: ActionRow) =>
    a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const actions = [...linked.values()].sort(byId).map(toAction);
  return { discrepancies, actions };
}
