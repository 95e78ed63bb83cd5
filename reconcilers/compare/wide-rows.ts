// Full ("wide") staged rows of the few records a run must look at closely: the two sides of pairs
// whose content hashes differ, deleted-in-one pairs and unmatched records. Their ids go from
// DuckDB to a Postgres temp table (COPY FROM STDIN), the rows come back in one COPY TO STDOUT read
// in one snapshot (both sides of a pair consistent), and land in the DuckDB temp table
// `<prefix>all`, seen per side through the views `<prefix>crm` / `<prefix>erp`. Values are the
// canonical text forms; the comparators run on them.
import { statSync } from 'node:fs';
import { assertTenantId, quoteIdent, quoteLiteral } from '../../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { duckIdent } from '../duckdb/sql-params.js';
import { type CsvColumn, duckToPg, pgToFile, readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';

/** One staged record as the job reads it: canonical fields as text plus bookkeeping. */
export interface MirrorRow {
  side: 'crm' | 'erp';
  source_id: string;
  version: bigint;
  updated_at: string | null;
  deleted: boolean;
  fields: Record<string, string | null>;
  /**
   * How many canonical fields hold a value. Set when `fields` holds only the values a pair's
   * comparison needs (diff-pairs.ts); otherwise count `fields`.
   */
  filled?: number;
}

interface WideColumn extends CsvColumn {
  /** The Postgres expression producing the CSV cell. */
  pg: string;
}

function wideColumns(entity: Entity, systems: { crm: string; erp: string }): WideColumn[] {
  return [
    {
      name: 'side',
      duckType: 'VARCHAR',
      pg: `CASE WHEN s.system = ${quoteLiteral(systems.crm)} THEN 'crm' ELSE 'erp' END`,
    },
    { name: 'source_id', duckType: 'VARCHAR', pg: 's.source_id' },
    ...ENTITY_FIELDS[entity].map((d) => ({
      name: d.name,
      duckType: 'VARCHAR',
      pg: `s.${quoteIdent(d.name)}::text`,
    })),
    { name: 'version', duckType: 'BIGINT', pg: 's.version' },
    {
      name: 'updated_at',
      duckType: 'VARCHAR',
      pg: `to_char(s.source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    },
    { name: 'deleted', duckType: 'BOOLEAN', pg: 's.deleted_at IS NOT NULL' },
    { name: 'staged_seq', duckType: 'BIGINT', pg: 's.staged_seq' },
  ];
}

/**
 * Reads the wide rows of the records `idsSql` (a DuckDB query of `side, source_id`) from staging
 * into the temp tables `<prefix>crm` and `<prefix>erp`. Returns how many rows came.
 */
export async function loadWide(
  { duck, pool, job, scratch }: JobContext,
  idsSql: string,
  prefix: string,
): Promise<number> {
  const cols = wideColumns(job.entity, job.config.systems);
  const views = async () => {
    for (const side of ['crm', 'erp'])
      await duck.run(
        `CREATE OR REPLACE TEMP VIEW ${prefix}${side} AS SELECT * FROM ${prefix}all WHERE side = '${side}'`,
      );
  };
  const empty = async () => {
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${prefix}all (${cols.map((c) => `"${c.name}" ${c.duckType}`).join(', ')})`,
    );
    await views();
  };
  const { crm, erp } = job.config.systems;
  const out = scratch.file('wide');
  await withTenantScope(pool, job.tenant, async (client) => {
    await client.query('CREATE TEMP TABLE trueup_ids (side text, source_id text) ON COMMIT DROP');
    await duckToPg(
      duck,
      `SELECT DISTINCT side, source_id FROM (${idsSql})`,
      client,
      'trueup_ids (side, source_id)',
      scratch.file('ids'),
    );
    await client.query('ANALYZE trueup_ids');
    // One join per side, so each is a lookup by the staging table's primary key.
    const perSide = (side: 'crm' | 'erp', system: string) =>
      `SELECT ${cols.map((c) => c.pg).join(', ')}
         FROM trueup_ids i JOIN staging.${quoteIdent(job.entity)} s
           ON s.tenant_id = ${quoteLiteral(assertTenantId(job.tenant))} AND s.system = ${quoteLiteral(system)}
          AND s.source_id = i.source_id
        WHERE i.side = '${side}'`;
    await pgToFile(client, `${perSide('crm', crm)} UNION ALL ${perSide('erp', erp)}`, out);
  });
  if (statSync(out).size === 0) {
    await empty();
    return 0;
  }
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${prefix}all AS SELECT * FROM ${readCsv(cols)}`, {
    files: [out],
  });
  await views();
  const got = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${prefix}all`);
  return Number(got[0]?.n ?? 0);
}

/** DuckDB select list of a wide row under `alias`, each column renamed `<prefix><column>`. */
export function wideRowColumns(entity: Entity, alias: string, prefix: string): string {
  const cols = ['source_id', 'version', 'updated_at', 'deleted', ...ENTITY_FIELDS[entity].map((d) => d.name)];
  return cols.map((c) => `${alias}.${duckIdent(c)} AS ${duckIdent(prefix + c)}`).join(', ');
}

export function toMirrorRow(
  entity: Entity,
  side: 'crm' | 'erp',
  r: Record<string, unknown>,
  prefix = '',
): MirrorRow {
  const fields: Record<string, string | null> = {};
  for (const d of ENTITY_FIELDS[entity]) fields[d.name] = (r[prefix + d.name] as string | null) ?? null;
  const filled = r[`${prefix}filled`];
  return {
    side,
    source_id: String(r[`${prefix}source_id`]),
    version: BigInt(r[`${prefix}version`] as bigint),
    updated_at: (r[`${prefix}updated_at`] as string | null) ?? null,
    deleted: Boolean(r[`${prefix}deleted`]),
    fields,
    ...(filled === undefined ? {} : { filled: Number(filled) }),
  };
}
