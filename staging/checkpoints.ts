// Checkpoints: the position each source stream has been staged up to (an LSN, an API cursor,
// a set of processed file hashes). Always written in the transaction of the rows they cover.
// Every read and write here is one tenant's: it runs in that tenant's scope (tenant-scope.ts),
// where the scope's role writes control.checkpoints only through the migration 0013 functions.
import pg from 'pg';
import type { Db } from './database.js';
import {
  enterTenantScope,
  saveScopedCheckpoint,
  scopeEnforced,
  scopeEnforcedDb,
  setScopedStreamState,
  withTenantScope,
  withTenantScopeDb,
} from './tenant-scope.js';

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

/**
 * Saves a checkpoint for `cp.tenant`. On a pool: in a transaction of its own, in the tenant's scope.
 * On a client: the caller's transaction enters (or stays in) the tenant's scope — the checkpoint
 * commits with whatever else that transaction wrote, and the rest of it runs in the scope too.
 */
export async function saveCheckpoint(
  client: pg.Pool | pg.ClientBase,
  cp: { tenant: string; system: string; stream: string; position: unknown; rows?: number },
): Promise<void> {
  if (client instanceof pg.Pool) {
    await withTenantScope(client, cp.tenant, (c) => saveCheckpoint(c, cp));
    return;
  }
  await enterTenantScope(client, cp.tenant);
  if (await scopeEnforced(client)) {
    await saveScopedCheckpoint(client, cp);
    return;
  }
  await client.query(
    `INSERT INTO control.checkpoints AS c (tenant_id, system, stream, position, rows_total)
     VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (tenant_id, system, stream) DO UPDATE SET
       position = EXCLUDED.position, rows_total = c.rows_total + EXCLUDED.rows_total,
       state = 'ok', detail = NULL, updated_at = now()`,
    [cp.tenant, cp.system, cp.stream, JSON.stringify(cp.position), cp.rows ?? 0],
  );
}

/** A stream's saved position (on a pool: read in the tenant's scope). */
export async function loadCheckpoint(
  q: pg.Pool | pg.ClientBase,
  key: { tenant: string; system: string; stream: string },
): Promise<unknown | undefined> {
  if (q instanceof pg.Pool) return withTenantScope(q, key.tenant, (c) => loadCheckpoint(c, key));
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
  return withTenantScope(pool, key.tenant, async (client) => {
    const saved = (await loadCheckpoint(client, key)) as T | null | undefined;
    if (saved) return { position: saved, created: false };
    await saveCheckpoint(client, { ...key, position: initial });
    return { position: initial, created: true };
  });
}

/** Records a stream's state without moving its position (paused, failed, needs_resnapshot…), in the tenant's scope. */
export async function setStreamState(
  db: Db,
  key: { tenant: string; system: string; stream: string },
  state: string,
  detail: string | null,
): Promise<void> {
  if (await scopeEnforcedDb(db)) {
    await withTenantScopeDb(db, key.tenant, (trx) => setScopedStreamState(trx, key, state, detail));
    return;
  }
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

/** The checkpoints of one tenant, or (no tenant: a cross-tenant status) of all, unscoped. */
export async function listCheckpoints(db: Db, tenant?: string): Promise<CheckpointRow[]> {
  if (tenant) return withTenantScopeDb(db, tenant, (trx) => readCheckpoints(trx, tenant));
  return readCheckpoints(db);
}

async function readCheckpoints(db: Db, tenant?: string): Promise<CheckpointRow[]> {
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
