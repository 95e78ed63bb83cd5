// Checkpoints: the position each source stream has been staged up to (an LSN, an API cursor,
// a set of processed file hashes). Always written in the transaction of the rows they cover.
import type pg from 'pg';
import type { Db } from './database.js';

export interface CheckpointRow {
  tenant: string;
  system: string;
  stream: string;
  position: unknown;
  state: string;
  detail: string | null;
  rowsTotal: number;
  updatedAt: Date;
}

export async function saveCheckpoint(
  client: pg.Pool | pg.ClientBase,
  cp: { tenant: string; system: string; stream: string; position: unknown; rows?: number },
): Promise<void> {
  await client.query(
    `INSERT INTO control.checkpoints AS c (tenant_id, system, stream, position, rows_total)
     VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (tenant_id, system, stream) DO UPDATE SET
       position = EXCLUDED.position, rows_total = c.rows_total + EXCLUDED.rows_total,
       state = 'ok', detail = NULL, updated_at = now()`,
    [cp.tenant, cp.system, cp.stream, JSON.stringify(cp.position), cp.rows ?? 0],
  );
}

export async function loadCheckpoint(
  q: pg.Pool | pg.ClientBase,
  key: { tenant: string; system: string; stream: string },
): Promise<unknown | undefined> {
  const res = await q.query<{ position: unknown }>(
    'SELECT position FROM control.checkpoints WHERE tenant_id = $1 AND system = $2 AND stream = $3',
    [key.tenant, key.system, key.stream],
  );
  return res.rows[0]?.position;
}

/**
 * A stream's checkpoint, or — when it has none yet — `initial`, saved now (`created`). For a
 * stream whose first start must be fixed before other streams move on (a delete stream that must
 * start where the first full load started, even if the run stops before it runs).
 */
export async function firstCheckpoint<T>(
  pool: pg.Pool,
  key: { tenant: string; system: string; stream: string },
  initial: T,
): Promise<{ position: T; created: boolean }> {
  const saved = (await loadCheckpoint(pool, key)) as T | null | undefined;
  if (saved) return { position: saved, created: false };
  await saveCheckpoint(pool, { ...key, position: initial });
  return { position: initial, created: true };
}

/** Records a stream's state without moving its position (paused, failed, needs_resnapshot…). */
export async function setStreamState(
  db: Db,
  key: { tenant: string; system: string; stream: string },
  state: string,
  detail: string | null,
): Promise<void> {
  await db
    .insertInto('control.checkpoints')
    .values({
      tenant_id: key.tenant,
      system: key.system,
      stream: key.stream,
      position: 'null',
      state,
      detail,
    })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'system', 'stream']).doUpdateSet({ state, detail, updated_at: new Date() }),
    )
    .execute();
}

export async function listCheckpoints(db: Db, tenant?: string): Promise<CheckpointRow[]> {
  let q = db
    .selectFrom('control.checkpoints')
    .selectAll()
    .orderBy('tenant_id')
    .orderBy('system')
    .orderBy('stream');
  if (tenant) q = q.where('tenant_id', '=', tenant);
  const rows = await q.execute();
  return rows.map((r) => ({
    tenant: r.tenant_id,
    system: r.system,
    stream: r.stream,
    position: r.position,
    state: r.state,
    detail: r.detail,
    rowsTotal: Number(r.rows_total),
    updatedAt: r.updated_at,
  }));
}
