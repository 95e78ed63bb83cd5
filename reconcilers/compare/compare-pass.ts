// One comparison pass after matching (the run itself, or in-flight confirmation): pairs whose
// content hashes differ, pairs deleted on one side and unmatched records are read in full from
// staging (wide-rows.ts) — everything else is equal by its hash and never leaves Postgres — then
// diff-pairs.ts runs the comparators on those few rows, references are decided through the
// referenced entity's links (references.ts), and what needs attention comes back for
// classification and survivorship. A lone record an open dead letter links to is set apart: its
// counterpart could not be staged, so it is unverifiable, not missing (match/dead-letters.ts).
// A streamed pass (`stream: true`) leaves the differing pairs in DuckDB: `diffChunks` hands them out
// a bounded number at a time with their references decided, for classifying and writing chunk by
// chunk (job/reconcile-job.ts); everything else comes back whole, as in a plain pass.
import type { JobContext } from '../job/job-context.js';
import type { PhaseClock } from '../job/phase-clock.js';
import { type DiffSource, materializeDiffs, type PairDiff, refreshMinorUnits } from './diff-pairs.js';
import { type ReferenceOutcome, resolveReferences } from './references.js';
import { loadWide, type MirrorRow, toMirrorRow, wideRowColumns } from './wide-rows.js';

/** What one pass found, before classification. */
export interface PassResult {
  diffs: PairDiff[];
  deleted: { crm: MirrorRow; erp: MirrorRow }[];
  /** Records found on one side only, whose counterpart is not a dead letter: missing. */
  lone: MirrorRow[];
  /** Records found on one side only that an open dead letter of the other side links to. */
  loneDeadLettered: { row: MirrorRow; deadLetters: string[] }[];
  dups: { side: 'crm' | 'erp'; id: string; partners: string[] }[];
  /** The verdicts on differing references, and their translation into the other system's ids. */
  references: ReferenceOutcome;
  /** Wide rows read from staging. */
  wideRows: number;
  /** Pairs compared (all matched pairs of the pass). */
  pairs: number;
  /**
   * A streamed pass: the differing pairs, left in DuckDB (`diffs` is then empty and `references`
   * covers the lone records only). Read them with diffChunks.
   */
  pending?: DiffSource;
}

/** Some differing pairs of a streamed pass with the verdicts on their references. */
export interface DiffChunk {
  diffs: PairDiff[];
  references: ReferenceOutcome;
}

/** Pairs per chunk of a streamed pass: the JavaScript working set of a run grows with it. */
export const compareChunk = {
  pairs:
    Number(process.env.TRUEUP_COMPARE_CHUNK_PAIRS) > 0
      ? Number(process.env.TRUEUP_COMPARE_CHUNK_PAIRS)
      : 5_000,
};

/**
 * The differing pairs of a streamed pass, `size` at a time, references decided per chunk: a
 * pair's verdicts and translations depend only on the records its own references name, so the
 * chunks come to what one call over all pairs would.
 */
export async function* diffChunks(
  cx: JobContext,
  pass: PassResult,
  size = compareChunk.pairs,
): AsyncGenerator<DiffChunk> {
  if (!pass.pending) {
    if (pass.diffs.length) yield { diffs: pass.diffs, references: pass.references };
    return;
  }
  for await (const chunk of pass.pending.chunks(size)) {
    const decided = await resolveReferences(cx, chunk, []);
    yield { diffs: decided.diffs, references: decided.refs };
  }
}

/**
 * One comparison pass over the match result `<o>pairs/dups/lone` (resolve-matches.ts): reads the wide
 * rows that need attention into `<o>w_crm` / `<o>w_erp` and returns what differs.
 */
export async function comparePass(
  cx: JobContext,
  o: string,
  clock?: PhaseClock,
  opts: { stream?: boolean } = {},
): Promise<PassResult> {
  const { duck, job } = cx;
  const entity = job.entity;
  const attention = `(cdel <> edel OR (NOT cdel AND NOT edel AND crh IS DISTINCT FROM erh))`;
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${o}cand AS SELECT * FROM ${o}pairs WHERE ${attention}`);
  // What there is to look at, in one query: statements over nothing are skipped below.
  const [sizes] = await duck.rows<{
    pairs: bigint;
    cand: bigint;
    deleted: bigint;
    lone: bigint;
    dups: bigint;
  }>(
    `SELECT (SELECT count(*) FROM ${o}pairs) AS pairs, (SELECT count(*) FROM ${o}cand) AS cand,
            (SELECT count(*) FROM ${o}cand WHERE cdel <> edel) AS deleted,
            (SELECT count(*) FROM ${o}lone) AS lone, (SELECT count(*) FROM ${o}dups) AS dups`,
  );
  const has = (k: 'cand' | 'deleted' | 'lone' | 'dups') => Number(sizes?.[k] ?? 0) > 0;
  const wideRows =
    has('cand') || has('lone')
      ? await loadWide(
          cx,
          `SELECT 'crm' AS side, crm_id AS source_id FROM ${o}cand UNION ALL SELECT 'erp', erp_id FROM ${o}cand
           UNION ALL SELECT side, source_id FROM ${o}lone`,
          `${o}w_`,
        )
      : 0;
  clock?.mark('compare.wide');
  const w = { crm: `${o}w_crm`, erp: `${o}w_erp` };
  const diffs: PairDiff[] = [];
  let pending: DiffSource | undefined;
  if (has('cand')) {
    await refreshMinorUnits(duck, entity, [w.crm, w.erp]);
    pending = await materializeDiffs(
      cx,
      { pairs: `(SELECT * FROM ${o}cand WHERE NOT cdel AND NOT edel)`, ...w },
      `${o}cmp_`,
    );
    if (!opts.stream) {
      // One by one: spreading a chunk of 100k+ pairs into push() would overflow the stack.
      for await (const chunk of pending.chunks(Number.MAX_SAFE_INTEGER)) for (const d of chunk) diffs.push(d);
      pending = undefined;
    }
  }
  clock?.mark('compare.diff');
  // deleted_in_one is decided on the mirror (where matching saw it); the wide rows give the
  // live side's amount and the deletion time.
  const deletedRows = has('deleted')
    ? await duck.rows(
        `SELECT p.cdel AS mirror_cdel, ${wideRowColumns(entity, 'c', 'c_')}, ${wideRowColumns(entity, 'e', 'e_')}
           FROM ${o}cand p JOIN ${w.crm} c ON c.source_id = p.crm_id JOIN ${w.erp} e ON e.source_id = p.erp_id
          WHERE p.cdel <> p.edel`,
      )
    : [];
  const deleted = deletedRows.map((r) => {
    const crm = toMirrorRow(entity, 'crm', r, 'c_');
    const erp = toMirrorRow(entity, 'erp', r, 'e_');
    // The mirror's view decides which side is the tombstone (a row read later may have moved on).
    crm.deleted = r.mirror_cdel === true;
    erp.deleted = r.mirror_cdel !== true;
    return { crm, erp };
  });
  const loneRows = has('lone')
    ? await duck.rows(
        `SELECT r.side AS side, dl.dead_letters AS dls, ${wideRowColumns(entity, 'r', '')} FROM ${o}lone l
           JOIN (SELECT * FROM ${w.crm} UNION ALL SELECT * FROM ${w.erp}) r ON r.side = l.side AND r.source_id = l.source_id
           ${
             cx.deadLetters.crm + cx.deadLetters.erp > 0
               ? `LEFT JOIN ${o}lone_dl dl ON dl.side = l.side AND dl.source_id = l.source_id`
               : 'LEFT JOIN (SELECT CAST(NULL AS BIGINT[]) AS dead_letters) dl ON false'
           }`,
      )
    : [];
  const lone: MirrorRow[] = [];
  const loneDeadLettered: PassResult['loneDeadLettered'] = [];
  for (const r of loneRows) {
    const row = toMirrorRow(entity, r.side as 'crm' | 'erp', r);
    const dls = r.dls as Iterable<unknown> | null;
    if (dls) loneDeadLettered.push({ row, deadLetters: [...dls].map(String) });
    else lone.push(row);
  }
  const dups = has('dups')
    ? (
        await duck.rows<{ side: 'crm' | 'erp'; id: string; partners: string[] }>(
          `SELECT side, id, partners FROM ${o}dups ORDER BY side, id`,
        )
      ).map((r) => ({ side: r.side, id: r.id, partners: [...r.partners] }))
    : [];
  const pairs = [{ n: sizes?.pairs ?? 0n }];
  clock?.mark('compare.rest');
  const decided = await resolveReferences(cx, diffs, lone);
  clock?.mark('compare.references');
  return {
    ...(pending ? { pending } : {}),
    diffs: decided.diffs,
    deleted,
    lone,
    loneDeadLettered,
    dups,
    references: decided.refs,
    wideRows,
    pairs: Number(pairs[0]?.n ?? 0),
  };
}
