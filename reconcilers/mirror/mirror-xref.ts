// The mirror's local copy of the tenant's xref links for one entity and system pair, with the
// tokens of both ids. Read again only when the links' version changed (control.xref_versions: a
// new one on every write of the links, so no change goes unnoticed). The version is read before
// the links: a change committed in between makes the copy newer than its version, and the next
// run just reads the links again. Changed links are left in the temp table xref_changed.
import { clientDb } from '../../staging/control/control-db.js';
import { xrefLinksSql, xrefVersion } from '../../staging/control/xref.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { duckSql, statements } from '../duckdb/sql-file.js';
import { type CsvColumn, readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';
import { tokenSql } from './mirror-layout.js';
import { getMeta, saveMeta } from './mirror-meta.js';
import { copyOut } from './staged-rows.js';

const COLUMNS: CsvColumn[] = [
  { name: 'crm_id', duckType: 'VARCHAR' },
  { name: 'erp_id', duckType: 'VARCHAR' },
];

export async function syncXref({ duck, pool, job, scratch }: JobContext): Promise<void> {
  const version = await withTenantScope(pool, job.tenant, (client) =>
    xrefVersion(clientDb(client), job.tenant, job.entity),
  );
  const stamp = `v:${version}`;
  await duck.run('CREATE OR REPLACE TEMP TABLE xref_changed (crm_id VARCHAR, erp_id VARCHAR)');
  if ((await getMeta(duck, 'xref_stamp')) === stamp) return;
  const file = scratch.file('xref');
  const links = xrefLinksSql({
    tenant: job.tenant,
    entity: job.entity,
    crmSystem: job.config.systems.crm,
    erpSystem: job.config.systems.erp,
  });
  if (await copyOut(pool, links, file, job.tenant))
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE xref_new AS SELECT DISTINCT crm_id, erp_id FROM ${readCsv(COLUMNS)}`,
      { files: [file] },
    );
  else await duck.run('CREATE OR REPLACE TEMP TABLE xref_new (crm_id VARCHAR, erp_id VARCHAR)');
  for (const s of statements(
    duckSql('xref-replace', { t_crm: tokenSql('crm_id'), t_erp: tokenSql('erp_id') }),
  ))
    await duck.run(s);
  await saveMeta(duck, { xref_stamp: stamp });
}
