// The local columnar mirror of one tenant × entity in a DuckDB file, refreshed from staging by
// staged_seq delta. There is no network in DuckDB (no postgres extension), so rows travel through
// the application: Postgres `COPY (SELECT …) TO STDOUT (FORMAT csv)` streamed into files that
// DuckDB reads in parallel. The cold path (first run, config change, --rebuild) splits the seq
// range into parallel COPY streams. Identifiers and values in the COPY query come from trueup
// itself (validated tenant id, system names, canonical columns, integers): COPY takes no $n
// parameters, so they are quoted with quoteLiteral.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { assertTenantId, quoteIdent, quoteLiteral } from '../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import type { Duck } from './duck.js';
import { duckSql, statements } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';

const MIRROR_FORMAT = 1;

export interface MirrorColumn {
  name: string;
  duckType: string;
  /** The Postgres expression producing the CSV cell. */
  pg: string;
}

export function mirrorColumns(entity: Entity, systems: { crm: string; erp: string }): MirrorColumn[] {
  return [
    {
      name: 'side',
      duckType: 'VARCHAR',
      pg: `CASE WHEN system = ${quoteLiteral(systems.crm)} THEN 'crm' ELSE 'erp' END`,
    },
    { name: 'source_id', duckType: 'VARCHAR', pg: 'source_id' },
    ...ENTITY_FIELDS[entity].map((d) => ({
      name: d.name,
      duckType: 'VARCHAR',
      pg: `${quoteIdent(d.name)}::text`,
    })),
    { name: 'version', duckType: 'BIGINT', pg: 'version' },
    {
      name: 'updated_at',
      duckType: 'VARCHAR',
      pg: `to_char(source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    },
    { name: 'deleted', duckType: 'BOOLEAN', pg: 'deleted_at IS NOT NULL' },
    { name: 'staged_seq', duckType: 'BIGINT', pg: 'staged_seq' },
  ];
}

function csvColumns(cols: MirrorColumn[]): string {
  return `{${cols.map((c) => `'${c.name}': '${c.duckType}'`).join(', ')}}`;
}

/** The SELECT of staged rows in mirror layout; `where` is trueup-built SQL. */
export function stagedSelect(job: ReconcileJob, where: string): string {
  assertTenantId(job.tenant);
  const cols = mirrorColumns(job.entity, job.config.systems);
  const { crm, erp } = job.config.systems;
  return `SELECT ${cols.map((c) => c.pg).join(', ')} FROM staging.${quoteIdent(job.entity)}
    WHERE tenant_id = ${quoteLiteral(job.tenant)} AND system IN (${quoteLiteral(crm)}, ${quoteLiteral(erp)}) AND ${where}`;
}

export async function copyOut(client: pg.ClientBase, select: string, file: string): Promise<void> {
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`));
  await pipeline(stream, createWriteStream(file));
}

export interface MirrorRefresh {
  cold: boolean;
  rowsCopied: number;
  rows: number;
  lastSeq: bigint;
}

export async function getMeta(duck: Duck, k: string): Promise<string | undefined> {
  const rows = await duck.rows<{ v: string }>('SELECT v FROM meta WHERE k = $k', { k });
  return rows[0]?.v;
}

export async function setMeta(duck: Duck, k: string, v: string): Promise<void> {
  await duck.run('INSERT OR REPLACE INTO meta VALUES ($k, $v)', { k, v });
}

/**
 * Brings the mirror up to the staged rows committed now. Leaves a temp table `delta` holding the
 * rows that changed (empty after a cold load, when everything must be treated as new).
 */
export async function refreshMirror(duck: Duck, pool: pg.Pool, job: ReconcileJob): Promise<MirrorRefresh> {
  const cols = mirrorColumns(job.entity, job.config.systems);
  for (const s of statements(
    duckSql('mirror-schema', { columns: cols.map((c) => `${c.name} ${c.duckType}`).join(', ') }),
  ))
    await duck.run(s);
  const identity = JSON.stringify({
    f: MIRROR_FORMAT,
    systems: job.config.systems,
    cols: cols.map((c) => c.name),
  });
  let cold = job.rebuildMirror === true || (await getMeta(duck, 'identity')) !== identity;
  const lastSeq = cold ? 0n : BigInt((await getMeta(duck, 'last_seq')) ?? '0');
  if (lastSeq === 0n) cold = true;

  const bounds = await pool.query<{ lo: string | null; hi: string | null; n: string }>(
    `SELECT min(staged_seq)::text AS lo, max(staged_seq)::text AS hi, count(*)::text AS n
       FROM staging.${quoteIdent(job.entity)} WHERE tenant_id = $1 AND system = ANY($2) AND staged_seq > $3`,
    [job.tenant, [job.config.systems.crm, job.config.systems.erp], lastSeq.toString()],
  );
  const b = bounds.rows[0];
  const hi = b?.hi ? BigInt(b.hi) : lastSeq;
  const n = Number(b?.n ?? 0);
  const dir = join(job.mirrorDir, `${job.entity}.copy`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const ranges: [bigint, bigint][] = [];
    if (n > 0) {
      const lo = BigInt(b?.lo ?? '0') - 1n;
      const parts = n > 100_000 ? Math.max(1, job.copyRanges ?? 2) : 1;
      const step = (hi - lo) / BigInt(parts) + 1n;
      for (let from = lo; from < hi; from += step) ranges.push([from, from + step < hi ? from + step : hi]);
    }
    await Promise.all(
      ranges.map(async ([from, to], i) => {
        const client = await pool.connect();
        try {
          const where = `staged_seq > ${from.toString()} AND staged_seq <= ${to.toString()}`;
          await copyOut(client, stagedSelect(job, where), join(dir, `part-${i}.csv`));
        } finally {
          client.release();
        }
      }),
    );
    const files = join(dir, 'part-*.csv');
    const slots = { csvColumns: csvColumns(cols) };
    if (cold) {
      if (ranges.length)
        for (const s of statements(duckSql('mirror-load-cold', slots)))
          await duck.run(s, s.includes('$files') ? { files } : undefined);
      else {
        await duck.run('DELETE FROM rec');
        await duck.run('CREATE OR REPLACE TEMP TABLE delta AS SELECT * FROM rec LIMIT 0');
      }
      await duck.run('DELETE FROM mkeys');
      await duck.run('DELETE FROM plinks');
      await duck.run('DELETE FROM pxref');
      await duck.run(`DELETE FROM meta WHERE k <> 'identity'`);
    } else if (ranges.length) {
      for (const s of statements(duckSql('mirror-apply-delta', slots)))
        await duck.run(s, s.includes('$files') ? { files } : undefined);
    } else await duck.run('CREATE OR REPLACE TEMP TABLE delta AS SELECT * FROM rec LIMIT 0');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await setMeta(duck, 'identity', identity);
  await setMeta(duck, 'last_seq', hi.toString());
  const total = await duck.rows<{ n: bigint }>('SELECT count(*) AS n FROM rec');
  return { cold, rowsCopied: n, rows: Number(total[0]?.n ?? 0), lastSeq: hi };
}

/**
 * Re-reads the current staged rows of a few records (in-flight confirmation) into the DuckDB
 * table `fresh`, without touching the mirror: the next run still sees them as changed.
 */
export async function loadFresh(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  ids: { crm: string[]; erp: string[] },
): Promise<void> {
  const cols = mirrorColumns(job.entity, job.config.systems);
  const dir = join(job.mirrorDir, `${job.entity}.fresh`);
  await mkdir(dir, { recursive: true });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE trueup_flagged (system text, source_id text) ON COMMIT DROP');
    await client.query(
      `INSERT INTO trueup_flagged SELECT $1, unnest($2::text[]) UNION ALL SELECT $3, unnest($4::text[])`,
      [job.config.systems.crm, ids.crm, job.config.systems.erp, ids.erp],
    );
    await copyOut(
      client,
      stagedSelect(job, '(system, source_id) IN (SELECT system, source_id FROM trueup_flagged)'),
      join(dir, 'part-0.csv'),
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE fresh AS SELECT * FROM read_csv($files, header = false, auto_detect = false,
       allow_quoted_nulls = false, quote = '"', escape = '"', columns = ${csvColumns(cols)})`,
    { files: join(dir, 'part-0.csv') },
  );
  await rm(dir, { recursive: true, force: true });
}
