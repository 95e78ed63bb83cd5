// Which open discrepancies and undecided actions an incremental run has examined: those that
// concern a record of its scope (scope.ts). The others belong to components nothing changed in:
// lifecycle.ts carries those discrepancies forward and leaves those actions alone.
//
// The references (id and the records concerned) of the entity's open discrepancies and undecided
// actions come to DuckDB — a few thousand short rows — and meet the scope there; only the ids that
// concern the scope go back to Postgres, usually a handful. Shipping the scope (twice the churn)
// to Postgres instead, with an index and statistics on it, cost more.
import { statSync } from 'node:fs';
import type pg from 'pg';
import { assertTenantId, quoteLiteral } from '../staging/identifiers.js';
import type { Duck } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import { type CsvColumn, pgToFile, readCsv, type Scratch } from './transfer.js';

export interface ExaminedRefs {
  /** Ids of open or accepted discrepancies, not yet seen by this run, that concern the scope. */
  discrepancies: string[];
  /** Ids of undecided actions of earlier runs whose record is in the scope. */
  actions: string[];
}

const COLUMNS: CsvColumn[] = [
  { name: 'kind', duckType: 'VARCHAR' },
  { name: 'id', duckType: 'BIGINT' },
  { name: 'crm_id', duckType: 'VARCHAR' },
  { name: 'erp_id', duckType: 'VARCHAR' },
];

/** Runs inside the write transaction (after this run's discrepancies are upserted). */
export async function examinedRefs(
  duck: Duck,
  client: pg.ClientBase,
  job: ReconcileJob,
  scratch: Scratch,
): Promise<ExaminedRefs> {
  const t = quoteLiteral(assertTenantId(job.tenant));
  const e = quoteLiteral(job.entity);
  const run = quoteLiteral(job.runId);
  const crm = quoteLiteral(job.config.systems.crm);
  // An action concerns the record it writes to, or for a create the record it copies.
  const file = scratch.file('refs');
  await pgToFile(
    client,
    `SELECT 'd', id, crm_id, erp_id FROM control.discrepancies
      WHERE tenant_id = ${t} AND entity = ${e} AND status IN ('open', 'accepted') AND last_seen_run <> ${run}
     UNION ALL
     SELECT 'a', a.id, CASE WHEN r.sys = ${crm} THEN r.rid END, CASE WHEN r.sys <> ${crm} THEN r.rid END
       FROM control.actions a
       CROSS JOIN LATERAL (SELECT
         CASE WHEN a.kind = 'create' THEN a.explanation->'source'->>'system' ELSE a.target_system END AS sys,
         CASE WHEN a.kind = 'create' THEN a.explanation->'source'->>'id' ELSE a.target_id END AS rid) r
      WHERE a.tenant_id = ${t} AND a.entity = ${e} AND a.status IN ('proposed', 'approved') AND a.run_id <> ${run}`,
    file,
  );
  if (statSync(file).size === 0) return { discrepancies: [], actions: [] };
  const rows = await duck.rows<{ kind: string; id: bigint }>(
    `SELECT kind, id FROM ${readCsv(COLUMNS)}
      WHERE crm_id IN (SELECT source_id FROM s_crm) OR erp_id IN (SELECT source_id FROM s_erp)`,
    { files: [file] },
  );
  const out: ExaminedRefs = { discrepancies: [], actions: [] };
  for (const r of rows) (r.kind === 'd' ? out.discrepancies : out.actions).push(String(r.id));
  return out;
}
