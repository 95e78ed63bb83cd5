// The local columnar mirror of one tenant × entity: a DuckDB file with one narrow row per staged
// record and side (mirror-layout.ts), refreshed by staged_seq delta inside the job's one DuckDB
// transaction (so a failed job leaves it as it was). Rows staged after the mirror's last_seq
// replace their older versions, found by source-id token and confirmed by a second hash of the id;
// the tokens of those older versions are kept until a run has examined them (their old keys point
// at the records an incremental run must re-examine). docs/reconcile.md tells why it is narrow and
// why the copies are consistent.

import { duckSql, statements } from '../duckdb/sql-file.js';
import { readCsv } from '../duckdb/transfer.js';
import type { JobContext } from '../job/job-context.js';
import type { PhaseClock } from '../job/phase-clock.js';
import {
  csvColumns,
  mirrorRowsSql,
  prevColumns,
  SIDES,
  type Side,
  tableColumns,
  tokenColumns,
} from './mirror-layout.js';
import { saveMeta } from './mirror-meta.js';
import { contentHash, copyOut, maxSeq, narrowSelect, STORED_HASH, stagingIdentity } from './staged-rows.js';

/** Bumped whenever a mirror's tables change shape; an older mirror is rebuilt. */
const MIRROR_FORMAT = 5;

export interface MirrorRefresh {
  cold: boolean;
  /** Staged rows read from Postgres. */
  rowsCopied: number;
  /** Rows in the mirror (both sides). */
  rows: number;
  /** The mirror holds every staged row up to this staged_seq. */
  lastSeq: bigint;
  /** Where the content hashes came from: staging's stored column, or computed while copying. */
  contentHash: 'stored' | 'computed';
}

export interface RefreshOptions {
  /**
   * Who examines the records whose older versions this refresh replaces: this job (their tokens
   * go to the temp tables tprev_*), or the next run (to the mirror's prev_*: an in-flight
   * confirmation's refresh, whose rows the next run examines).
   */
  examinedBy: 'this-job' | 'next-run';
  clock?: PhaseClock;
}

/** Brings the mirror up to the staged rows committed now, inside the caller's open DuckDB transaction. */
export async function refreshMirror(cx: JobContext, opts: RefreshOptions): Promise<MirrorRefresh> {
  const { duck, pool, job, layout, scratch } = cx;
  const clock = opts.clock;
  await duck.run('CREATE TABLE IF NOT EXISTS meta (k VARCHAR PRIMARY KEY, v VARCHAR)');
  // Three reads of staging at once; each is awaited below (a failure must not go unhandled meanwhile).
  const stagingQuery = stagingIdentity(pool);
  const hiQuery = maxSeq(pool, job);
  const hashQuery = contentHash(pool, job, layout);
  for (const q of [stagingQuery, hiQuery, hashQuery]) q.catch(() => {});
  const duckVersion = await duck.rows<{ v: string }>('SELECT version() AS v');
  const meta = await duck.rows<{ k: string; v: string }>('SELECT k, v FROM meta');
  const { pgMajor, ...staging } = await stagingQuery;
  const hi0 = await hiQuery;
  const hash = await hashQuery;
  const m = new Map(meta.map((r) => [r.k, r.v]));
  // Content hashes are comparable only from one Postgres major version, tokens only from one
  // DuckDB version, and both only under one layout; the rows and staged_seqs only from one
  // staging database (another URL, or staging restored from a backup into a new database, has
  // its own rows under the same data folder).
  const identity = JSON.stringify({
    f: MIRROR_FORMAT,
    pg: pgMajor,
    duckdb: duckVersion[0]?.v,
    staging,
    systems: job.config.systems,
    layout,
  });
  const lastSeq = BigInt(m.get('last_seq') ?? '0');
  // Staging behind the mirror (restored in place from an older backup, rows removed): the delta
  // after last_seq would miss rows staged again under the same seqs, so start over.
  const cold =
    job.rebuildMirror === true || m.get('identity') !== identity || lastSeq === 0n || hi0 < lastSeq;
  const slots = { columns: tableColumns(layout), prev: prevColumns(layout) };
  if (cold) {
    for (const s of statements(duckSql('mirror-drop'))) await duck.run(s);
    await duck.run('DELETE FROM meta');
    for (const s of statements(duckSql('mirror-schema', slots))) await duck.run(s);
    clock?.mark('refresh.prepare');
    return coldLoad(cx, { hash, identity, hi: hi0 }, clock);
  }
  for (const side of SIDES)
    await duck.run(`CREATE TEMP TABLE IF NOT EXISTS tprev_${side} (${prevColumns(layout)})`);
  clock?.mark('refresh.prepare');

  // Delta: the rows of each side staged in (last_seq, hi0], one COPY per side in parallel.
  const files: string[] = [];
  if (hi0 > lastSeq)
    await Promise.all(
      SIDES.map(async (side) => {
        const file = scratch.file(`delta-${side}`);
        if (
          await copyOut(
            pool,
            narrowSelect(job, layout, hash, side, { lo: lastSeq, hi: hi0 }),
            file,
            job.tenant,
          )
        )
          files.push(file);
      }),
    );
  const any = files.length > 0;
  clock?.mark('refresh.copy');
  const read = `SELECT * FROM (${mirrorRowsSql(layout, readCsv(csvColumns(layout)))})`;
  if (any) await duck.run(`CREATE OR REPLACE TEMP TABLE d_all AS ${read}`, { files });
  else await duck.run(`CREATE OR REPLACE TEMP TABLE d_all AS SELECT 'crm' AS side, * FROM crm LIMIT 0`);
  for (const side of SIDES)
    await duck.run(
      `CREATE OR REPLACE TEMP VIEW d_${side} AS SELECT * EXCLUDE (side) FROM d_all WHERE side = '${side}'`,
    );
  const got = await duck.rows<{ c: bigint; e: bigint; hi: bigint | null }>(
    `SELECT count(*) FILTER (WHERE side = 'crm') AS c, count(*) FILTER (WHERE side = 'erp') AS e,
            max(staged_seq) AS hi FROM d_all`,
  );
  const hi = got[0]?.hi != null ? BigInt(got[0].hi) : lastSeq;
  const added = { crm: Number(got[0]?.c ?? 0), erp: Number(got[0]?.e ?? 0) };
  const rows = { crm: Number(m.get('rows_crm') ?? 0), erp: Number(m.get('rows_erp') ?? 0) };
  const tokens = tokenColumns(layout).join(', ');
  for (const side of SIDES) {
    if (!added[side]) continue;
    const prev = opts.examinedBy === 'next-run' ? `prev_${side}` : `tprev_${side}`;
    for (const s of statements(duckSql('mirror-apply-delta', { side, seq: hi.toString(), tokens, prev })))
      await duck.run(s);
    const hits = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM hit_${side}`);
    rows[side] += added[side] - Number(hits[0]?.n ?? 0);
  }
  await saveMeta(duck, { last_seq: hi.toString(), rows_crm: `${rows.crm}`, rows_erp: `${rows.erp}` });
  clock?.mark('refresh.apply');
  return refreshed(false, added.crm + added.erp, rows.crm + rows.erp, hi, hash);
}

/** The cold path: the mirror from scratch, every staged row up to `hi`. */
async function coldLoad(
  cx: JobContext,
  { hash, identity, hi }: { hash: string; identity: string; hi: bigint },
  clock?: PhaseClock,
): Promise<MirrorRefresh> {
  const { duck, pool, job, layout, scratch } = cx;
  // Parallel COPY streams: one per side, each split further by staged_seq when asked.
  const perSide = Math.max(1, Math.floor((job.copyRanges ?? 2) / 2));
  const files: Record<Side, string[]> = { crm: [], erp: [] };
  if (hi > 0n) {
    const parts: { side: Side; lo: bigint; hi: bigint; file: string }[] = [];
    const step = hi / BigInt(perSide) + 1n;
    for (const side of SIDES)
      for (let lo = 0n; lo < hi; lo += step)
        parts.push({ side, lo, hi: lo + step < hi ? lo + step : hi, file: scratch.file(`mirror-${side}`) });
    await Promise.all(
      parts.map(async (p) => {
        if (await copyOut(pool, narrowSelect(job, layout, hash, p.side, p), p.file, job.tenant))
          files[p.side].push(p.file);
      }),
    );
  }
  clock?.mark('refresh.copy');
  const rows = { crm: 0, erp: 0 };
  for (const side of SIDES) {
    if (files[side].length)
      await duck.run(
        `INSERT INTO ${side} SELECT * EXCLUDE (side) FROM (${mirrorRowsSql(layout, readCsv(csvColumns(layout)))})`,
        { files: files[side] },
      );
    const n = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${side}`);
    rows[side] = Number(n[0]?.n ?? 0);
  }
  await saveMeta(duck, {
    identity,
    last_seq: hi.toString(),
    rows_crm: `${rows.crm}`,
    rows_erp: `${rows.erp}`,
  });
  clock?.mark('refresh.apply');
  return refreshed(true, rows.crm + rows.erp, rows.crm + rows.erp, hi, hash);
}

function refreshed(
  cold: boolean,
  rowsCopied: number,
  rows: number,
  lastSeq: bigint,
  hash: string,
): MirrorRefresh {
  return { cold, rowsCopied, rows, lastSeq, contentHash: hash === STORED_HASH ? 'stored' : 'computed' };
}
