// Open dead letters as counterparts (issue 12). A record whose counterpart could not be staged is
// not missing on the other side: it is `unverifiable`, pointing at the dead letter. Before matching,
// a job reads the open dead letters of its tenant × entity on both systems — with the source id,
// direct keys and business keys the dead-lettered change still carries (a letter holding only the
// raw record has its source id) — into the temp tables `dl_crm` / `dl_erp`, shaped like mirror rows
// (l_*, normalised k*, tokens). Their numbers are the sides' completeness; after matching, the lone
// records linked to one of them (by the same links matching uses) go to `<o>lone_dl`. An incremental
// run re-examines the records an open dead letter links to (a letter may be new) and those of live
// unverifiable discrepancies (a letter may have been replayed or discarded): both are few.
import { clientDb } from '../../staging/control/control-db.js';
import { liveDiscrepancyRecords, openDeadLettersSql } from '../../staging/control/discrepancies-evidence.js';
import type { EntityConfig } from '../../staging/model/tenant-config.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import type { Duck } from '../duckdb/duck.js';
import { type CsvColumn, readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';
import {
  keyCol,
  keyToken,
  linkCol,
  linkToken,
  type MirrorLayout,
  normalisedKeySql,
  SID_TOKEN,
  SIDES,
  type Side,
  tokenSql,
} from '../mirror/mirror-layout.js';
import { copyOut } from '../mirror/staged-rows.js';
import { linkedTo } from './scope.js';

export type DeadLetterCounts = Record<Side, number>;

/** Reads the open dead letters into `dl_crm` / `dl_erp`; returns how many each side has. */
export async function loadDeadLetters({
  duck,
  pool,
  job,
  layout,
  scratch,
}: JobContext): Promise<DeadLetterCounts> {
  const select = openDeadLettersSql({
    tenant: job.tenant,
    entity: job.entity,
    crmSystem: job.config.systems.crm,
    erpSystem: job.config.systems.erp,
    fields: [...layout.links, ...layout.keys.map((k) => k.field)],
  });
  const columns: CsvColumn[] = [
    { name: 'side', duckType: 'VARCHAR' },
    { name: 'dl_id', duckType: 'BIGINT' },
    { name: 'source_id', duckType: 'VARCHAR' },
    ...layout.links.map((f) => ({ name: `l_${f}`, duckType: 'VARCHAR' })),
    ...layout.keys.map((_k, i) => ({ name: `r${i + 1}`, duckType: 'VARCHAR' })),
  ];
  const shaped = (from: string) =>
    `SELECT side, dl_id, source_id, ${[
      ...layout.links.map((f) => linkCol(f)),
      ...layout.keys.map((k, i) => `${normalisedKeySql(k.normalise, `r${i + 1}`)} AS ${keyCol(i + 1)}`),
    ]
      .map((c) => `${c}, `)
      .join('')}${tokenSql('source_id')} AS ${SID_TOKEN}
       FROM ${from}`;
  const file = scratch.file('dead-letters');
  // Usually there are none: then no table is made, and nothing later looks for one.
  if (!(await copyOut(pool, select, file, job.tenant))) return { crm: 0, erp: 0 };
  await duck.run(`CREATE OR REPLACE TEMP TABLE dl_rows AS ${shaped(readCsv(columns))}`, { files: [file] });
  // Tokens like a scope frontier's (scope.ts linkedTo), so an incremental run can seed the
  // records linked to a dead letter the way it grows a scope.
  const tokens = [
    ...layout.links.map((f) => `${tokenSql(linkCol(f))} AS ${linkToken(f)}`),
    ...layout.keys.map((_k, i) => `${tokenSql(keyCol(i + 1))} AS ${keyToken(i + 1)}`),
  ];
  for (const side of SIDES)
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE dl_${side} AS SELECT * EXCLUDE (side)${tokens.map((t) => `, ${t}`).join('')}
         FROM dl_rows WHERE side = '${side}'`,
    );
  const [n] = await duck.rows<{ crm: bigint; erp: bigint }>(
    `SELECT count(*) FILTER (WHERE side = 'crm') AS crm, count(*) FILTER (WHERE side = 'erp') AS erp FROM dl_rows`,
  );
  return { crm: Number(n?.crm ?? 0), erp: Number(n?.erp ?? 0) };
}

/**
 * `<o>lone_dl (side, source_id, dead_letters)`, made only when there are open dead letters: the
 * lone records of `<o>lone` that one of the other side's open dead letters links to — through a direct key either way, an xref link or a business
 * key, one equi-join each (an OR join would compare every lone record with every letter).
 */
export async function markDeadLettered(
  duck: Duck,
  cfg: EntityConfig,
  layout: MirrorLayout,
  src: Record<Side, string>,
  o: string,
  counts: DeadLetterCounts,
): Promise<void> {
  const pieces: string[] = [];
  for (const side of SIDES) {
    const other: Side = side === 'crm' ? 'erp' : 'crm';
    if (!counts[other]) continue;
    const from = `${o}lone l JOIN ${src[side]} r ON l.side = '${side}' AND r.source_id = l.source_id`;
    const via = (on: string) =>
      `SELECT '${side}' AS side, r.source_id, d.dl_id FROM ${from} JOIN dl_${other} d ON ${on}`;
    for (const d of cfg.match.direct)
      pieces.push(
        via(d.side === side ? `r.${linkCol(d.field)} = d.source_id` : `d.${linkCol(d.field)} = r.source_id`),
      );
    pieces.push(
      `SELECT '${side}' AS side, r.source_id, d.dl_id FROM ${from}
         JOIN xref x ON x.${side}_id = r.source_id JOIN dl_${other} d ON d.source_id = x.${other}_id`,
    );
    for (let i = 1; i <= layout.keys.length; i++) pieces.push(via(`r.${keyCol(i)} = d.${keyCol(i)}`));
  }
  if (!pieces.length) return;
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${o}lone_dl AS
       SELECT side, source_id, list_sort(list_distinct(list(dl_id))) AS dead_letters
         FROM (${pieces.join('\nUNION ALL\n')}) GROUP BY side, source_id`,
  );
}

/**
 * Seed predicates of an incremental run (scope.ts incrementalSeeds): over a side's mirror table,
 * the records an open dead letter of the other side links to, and the records of the live
 * unverifiable discrepancies (loaded here into `uv_records`; `lastUnverifiable`: how many the
 * last run left, 0 spares the query when there are no dead letters either).
 */
export async function deadLetterSeeds(
  cx: JobContext,
  lastUnverifiable: number,
): Promise<(side: Side) => string[]> {
  const { duck, pool, job, layout, deadLetters } = cx;
  // Without open dead letters, and with no unverifiable discrepancy after the last run, there is
  // nothing to look at (a run without either pays no query).
  const records =
    lastUnverifiable > 0 || deadLetters.crm + deadLetters.erp > 0
      ? await withTenantScope(pool, job.tenant, (client) =>
          liveDiscrepancyRecords(clientDb(client), {
            tenant: job.tenant,
            entity: job.entity,
            classes: ['unverifiable'],
          }),
        )
      : [];
  await duck.run('CREATE OR REPLACE TEMP TABLE uv_records (side VARCHAR, source_id VARCHAR)');
  if (records.length) {
    const app = await duck.conn.createAppender('uv_records');
    for (const r of records)
      for (const side of SIDES) {
        const id = side === 'crm' ? r.crmId : r.erpId;
        if (id === null) continue;
        app.appendVarchar(side);
        app.appendVarchar(id);
        app.endRow();
      }
    app.closeSync();
  }
  return (side) => {
    const other: Side = side === 'crm' ? 'erp' : 'crm';
    return [
      ...(deadLetters[other] ? [linkedTo(job.config.entity, layout, side, `dl_${other}`)] : []),
      ...(records.length
        ? [`${SID_TOKEN} IN (SELECT ${tokenSql('source_id')} FROM uv_records WHERE side = '${side}')`]
        : []),
    ];
  };
}
