// control.runs (one row per reconcile run of a tenant: its sources' positions at the start, its
// summary, its errors) and control.entity_runs (the runs of a tenant × entity, numbered: an
// incremental run's carried-forward discrepancies are derived from the numbers, 0005_entity_runs.sql).
// Statuses and transitions: run-states.ts.
import { sql } from 'kysely';
import type { Db } from '../database.js';
import { type RunKind, runTransition, UNFINISHED_RUN_STATUSES } from './run-states.js';
import { NEW, sqlList } from './transition-table.js';

export interface NewRun {
  tenant: string;
  runId: string;
  kind: RunKind;
  mode: string;
  sourcePositions: unknown;
  outputDir: string;
  startedAt: Date;
}

/** Records a run as it starts (event `start`). */
export async function startRun(db: Db, r: NewRun): Promise<void> {
  await db
    .insertInto('control.runs')
    .values({
      tenant_id: r.tenant,
      run_id: r.runId,
      kind: r.kind,
      mode: r.mode,
      status: runTransition(NEW, 'start'),
      source_positions: JSON.stringify(r.sourcePositions),
      output_dir: r.outputDir,
      started_at: r.startedAt,
    })
    .execute();
}

/** Closes a run with its summary (event `succeed`, or `fail` when `error` is set). */
export async function finishRun(
  db: Db,
  r: { tenant: string; runId: string; summary: unknown; error: string | null },
): Promise<void> {
  await db
    .updateTable('control.runs')
    .set({
      status: runTransition('running', r.error === null ? 'succeed' : 'fail'),
      finished_at: sql<Date>`now()`,
      summary: JSON.stringify(r.summary),
      error: r.error,
    })
    .where('tenant_id', '=', r.tenant)
    .where('run_id', '=', r.runId)
    .execute();
}

/** Fails a run that is still unfinished (R2: when its summary or final record could not be written). */
export async function failUnfinishedRun(
  db: Db,
  r: { tenant: string; runId: string; error: string },
): Promise<void> {
  await db
    .updateTable('control.runs')
    .set({ status: runTransition('running', 'fail'), finished_at: sql<Date>`now()`, error: r.error })
    .where('tenant_id', '=', r.tenant)
    .where('run_id', '=', r.runId)
    .where(sql<boolean>`status IN ${sql.raw(sqlList(UNFINISHED_RUN_STATUSES))}`)
    .execute();
}

/**
 * Gives a run its number among the runs of a tenant × entity (the next one), inside the caller's
 * transaction, which holds the entity's results lock (entity-results-lock.ts). Returns it as text.
 */
export async function numberEntityRun(
  db: Db,
  r: { tenant: string; entity: string; runId: string },
): Promise<string> {
  const { rows } = await sql<{ run_no: string }>`
    INSERT INTO control.entity_runs (tenant_id, entity, run_no, run_id)
    SELECT ${r.tenant}, ${r.entity}, coalesce(max(run_no), 0) + 1, ${r.runId}
      FROM control.entity_runs WHERE tenant_id = ${r.tenant} AND entity = ${r.entity}
    RETURNING run_no::text`.execute(db);
  return rows[0]!.run_no;
}
