// The mirror's local copy of the tenant's xref links for one entity and system pair, with the
// tokens of both ids (mirror-layout.ts). Refreshed only when the links' version changed: a trigger
// gives the tenant × entity a new version from one sequence on every write of its links
// (control.xref_versions, migration 0007), so no change can go unnoticed — a count and newest
// created_at missed a back-dated insert together with a delete. The version is read before the
// links: a change committed in between makes the copy newer than its version, and the next run
// just reads the links again. The links that appeared or vanished are left in the temp table
// xref_changed, where they seed an incremental scope.
import { statSync } from 'node:fs';
import type pg from 'pg';
import { assertTenantId, quoteLiteral } from '../staging/identifiers.js';
import type { Duck } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import { getMeta, saveMeta } from './mirror.js';
import { tokenSql } from './mirror-layout.js';
import { type CsvColumn, pgToFile, readCsv, type Scratch } from './transfer.js';

const COLUMNS: CsvColumn[] = [
  { name: 'crm_id', duckType: 'VARCHAR' },
  { name: 'erp_id', duckType: 'VARCHAR' },
];

export async function syncXref(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  scratch: Scratch,
): Promise<void> {
  const where = `tenant_id = ${quoteLiteral(assertTenantId(job.tenant))} AND entity = ${quoteLiteral(job.entity)}
    AND crm_system = ${quoteLiteral(job.config.systems.crm)} AND erp_system = ${quoteLiteral(job.config.systems.erp)}`;
  const { rows } = await pool.query<{ v: string }>(
    'SELECT version::text AS v FROM control.xref_versions WHERE tenant_id = $1 AND entity = $2',
    [job.tenant, job.entity],
  );
  // No row: no link of this tenant × entity was written since the migration made the table.
  const stamp = `v:${rows[0]?.v ?? 0}`;
  await duck.run('CREATE OR REPLACE TEMP TABLE xref_changed (crm_id VARCHAR, erp_id VARCHAR)');
  if ((await getMeta(duck, 'xref_stamp')) === stamp) return;
  const file = scratch.file('xref');
  const client = await pool.connect();
  try {
    await pgToFile(client, `SELECT crm_id, erp_id FROM control.xref WHERE ${where}`, file);
  } finally {
    client.release();
  }
  if (statSync(file).size > 0)
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE xref_new AS SELECT DISTINCT crm_id, erp_id FROM ${readCsv(COLUMNS)}`,
      { files: [file] },
    );
  else await duck.run('CREATE OR REPLACE TEMP TABLE xref_new (crm_id VARCHAR, erp_id VARCHAR)');
  // Inside the job's DuckDB transaction, like the mirror refresh.
  await duck.run(
    `INSERT INTO xref_changed (SELECT * FROM xref_new EXCEPT SELECT crm_id, erp_id FROM xref)
       UNION ALL (SELECT crm_id, erp_id FROM xref EXCEPT SELECT * FROM xref_new)`,
  );
  await duck.run('DELETE FROM xref');
  await duck.run(
    `INSERT INTO xref SELECT crm_id, erp_id, ${tokenSql('crm_id')}, ${tokenSql('erp_id')} FROM xref_new`,
  );
  await saveMeta(duck, { xref_stamp: stamp });
}
