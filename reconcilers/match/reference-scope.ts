// An incremental run re-examines the records whose referenced links changed (issue 12): an
// invoice's customer_ref is judged by the customers' links (compare/references.ts), so a customer
// linked, unlinked or re-keyed since the last run may turn an equal reference into a mismatch or
// the reverse, although no invoice changed. Per referenced entity the mirror remembers the version
// of its xref links and its newest staged_seq (meta `ref:<entity>`) and keeps a copy of its xref
// links (`rx_<entity>`). When they moved, the changed ids go to the temp table `ref_changed`: the
// ends of the links that appeared or vanished, and the records staged since (their own ids and the
// ids their direct keys name). The seeds are the records whose reference token is among them
// (mirror-layout.ts t_r_*), and those of the live discrepancies of a reference field (their
// reference may name a record whose old direct key is gone).
import { clientDb } from '../../staging/control/control-db.js';
import { liveDiscrepancyRecords } from '../../staging/control/discrepancies-evidence.js';
import { xrefLinksSql, xrefVersion } from '../../staging/control/xref.js';
import type { Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { REFERENCES } from '../compare/reference-fields.js';
import { duckIdent } from '../duckdb/sql-params.js';
import { type CsvColumn, readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';
import { refToken, SID_TOKEN, SIDES, type Side, tokenSql } from '../mirror/mirror-layout.js';
import { getMeta } from '../mirror/mirror-meta.js';
import { copyOut, maxSeqOf, stagedLinksSql } from '../mirror/staged-rows.js';

export interface ReferenceTracking {
  /** Seed predicates over a side's mirror table (scope.ts incrementalSeeds). */
  seeds(side: Side): string[];
  /** What the mirror remembers of the referenced entities, saved with the run. */
  meta: Record<string, string>;
  /** The referenced links cannot be followed incrementally (staging behind the mirror): run full. */
  full: boolean;
}

const NONE: ReferenceTracking = { seeds: () => [], meta: {}, full: false };

interface Stamp {
  xv: string;
  seq: string;
}

/**
 * Brings the copies of the referenced entities' links up to date and, for an incremental run, the
 * ids whose links changed since the last run. Read before anything is compared: a change committed
 * later is seen by the next run.
 */
export async function trackReferences(cx: JobContext, incremental: boolean): Promise<ReferenceTracking> {
  const { duck, pool, job, scratch } = cx;
  const fields = REFERENCES[job.entity].filter((r) => job.config.references?.[r.target]);
  if (!fields.length) return NONE;
  const { systems } = job.config;
  await duck.run('CREATE OR REPLACE TEMP TABLE ref_changed (target VARCHAR, side VARCHAR, id VARCHAR)');
  const meta: Record<string, string> = {};
  const changed: Entity[] = [];
  let full = false;
  for (const target of new Set(fields.map((r) => r.target))) {
    // The version first, then the links: a change in between makes the copy newer than its stamp.
    const [xv, seq] = await withTenantScope(pool, job.tenant, async (client) => [
      await xrefVersion(clientDb(client), job.tenant, target),
      await maxSeqOf(client, job.tenant, target, systems),
    ]);
    const saved = await getMeta(duck, `ref:${target}`);
    const prev = saved ? (JSON.parse(saved) as Stamp) : undefined;
    meta[`ref:${target}`] = JSON.stringify({ xv, seq: seq.toString() } satisfies Stamp);
    const rx = duckIdent(`rx_${target}`);
    await duck.run(`CREATE TABLE IF NOT EXISTS ${rx} (crm_id VARCHAR, erp_id VARCHAR)`);
    let moved = false;
    if (prev?.xv !== xv) {
      const file = scratch.file(`rx-${target}`);
      const links: CsvColumn[] = [
        { name: 'crm_id', duckType: 'VARCHAR' },
        { name: 'erp_id', duckType: 'VARCHAR' },
      ];
      const any = await copyOut(
        pool,
        xrefLinksSql({ tenant: job.tenant, entity: target, crmSystem: systems.crm, erpSystem: systems.erp }),
        file,
        job.tenant,
      );
      await duck.run(
        any
          ? `CREATE OR REPLACE TEMP TABLE rx_new AS SELECT DISTINCT crm_id, erp_id FROM ${readCsv(links)}`
          : 'CREATE OR REPLACE TEMP TABLE rx_new (crm_id VARCHAR, erp_id VARCHAR)',
        any ? { files: [file] } : {},
      );
      if (incremental && prev)
        await duck.run(
          `INSERT INTO ref_changed
             WITH c AS ((SELECT crm_id, erp_id FROM rx_new EXCEPT SELECT crm_id, erp_id FROM ${rx})
                        UNION ALL (SELECT crm_id, erp_id FROM ${rx} EXCEPT SELECT crm_id, erp_id FROM rx_new))
             SELECT '${target}', 'crm', crm_id FROM c UNION ALL SELECT '${target}', 'erp', erp_id FROM c`,
        );
      await duck.run(`DELETE FROM ${rx}`);
      await duck.run(`INSERT INTO ${rx} SELECT crm_id, erp_id FROM rx_new`);
      moved = true;
    }
    if (!incremental) continue;
    if (!prev || seq < BigInt(prev.seq)) {
      // Never followed, or staging is behind what the last run saw (restored): compare everything.
      full = true;
      continue;
    }
    if (seq > BigInt(prev.seq)) {
      const direct = job.config.references[target]!.direct;
      const keys = [...new Map(direct.map((d) => [`${d.side}:${d.field}`, d])).values()];
      const cols = keys.map((d) => d.field);
      const file = scratch.file(`ref-${target}`);
      const any = await copyOut(
        pool,
        stagedLinksSql(job.tenant, target, systems, cols, { lo: BigInt(prev.seq), hi: seq }),
        file,
        job.tenant,
      );
      if (any) {
        const csv: CsvColumn[] = [
          { name: 'side', duckType: 'VARCHAR' },
          { name: 'source_id', duckType: 'VARCHAR' },
          ...cols.map((_c, i) => ({ name: `v${i}`, duckType: 'VARCHAR' })),
        ];
        // A staged record changes its own links, and those of the records its direct keys name
        // (a CRM record's erp_ref names an ERP id).
        const named = keys.map(
          (d, i) =>
            `SELECT '${target}', '${d.side === 'crm' ? 'erp' : 'crm'}', v${i} FROM ref_staged WHERE side = '${d.side}' AND v${i} IS NOT NULL`,
        );
        await duck.run(`CREATE OR REPLACE TEMP TABLE ref_staged AS SELECT * FROM ${readCsv(csv)}`, {
          files: [file],
        });
        await duck.run(
          `INSERT INTO ref_changed SELECT '${target}', side, source_id FROM ref_staged
           ${named.map((n) => `UNION ALL ${n}`).join('\n')}`,
        );
      }
      moved = true;
    }
    if (moved) changed.push(target);
  }
  if (!incremental || full || !changed.length) return { seeds: () => [], meta, full };
  const refFields = fields.filter((r) => changed.includes(r.target));
  const records = await withTenantScope(pool, job.tenant, (client) =>
    liveDiscrepancyRecords(clientDb(client), {
      tenant: job.tenant,
      entity: job.entity,
      fields: refFields.map((r) => r.field),
    }),
  );
  await duck.run('CREATE OR REPLACE TEMP TABLE ref_records (side VARCHAR, source_id VARCHAR)');
  if (records.length) {
    const app = await duck.conn.createAppender('ref_records');
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
  return {
    meta,
    full,
    seeds: (side) => {
      const ids = (target: Entity) =>
        `SELECT ${tokenSql('id')} FROM ref_changed WHERE target = '${target}' AND side = '${side}'`;
      return [
        ...refFields.map((r) =>
          r.list
            ? `list_has_any(${refToken(r.field)}, (SELECT coalesce(list(t), []) FROM (${ids(r.target)}) AS l(t)))`
            : `${refToken(r.field)} IN (${ids(r.target)})`,
        ),
        ...(records.length
          ? [`${SID_TOKEN} IN (SELECT ${tokenSql('source_id')} FROM ref_records WHERE side = '${side}')`]
          : []),
      ];
    },
  };
}
