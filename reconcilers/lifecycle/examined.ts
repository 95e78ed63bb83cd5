// Which live discrepancies and undecided actions an incremental run has examined: those that
// concern a record of its scope (match/scope.ts). The others belong to components nothing changed
// in: write-results.ts carries those discrepancies forward and leaves those actions alone. Their
// references (a few thousand short rows) come to DuckDB and meet the scope there; only the ids that
// concern it go back, usually a handful (shipping the scope to Postgres instead cost more).
import { statSync } from 'node:fs';
import type pg from 'pg';
import { undecidedActionRefsSql } from '../../staging/control/actions.js';
import { liveDiscrepancyRefsSql } from '../../staging/control/discrepancies.js';
import { type CsvColumn, pgToFile, readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';

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
  { duck, job, scratch }: JobContext,
  client: pg.ClientBase,
): Promise<ExaminedRefs> {
  const run = { tenant: job.tenant, entity: job.entity, runId: job.runId };
  const file = scratch.file('refs');
  await pgToFile(
    client,
    `${liveDiscrepancyRefsSql(run)}
     UNION ALL
     ${undecidedActionRefsSql({ ...run, crmSystem: job.config.systems.crm })}`,
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
