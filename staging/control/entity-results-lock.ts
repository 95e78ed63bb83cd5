// The lock that serialises everyone who writes a tenant × entity's discrepancies and actions: a
// run's write of its results and a reviewer's decisions. Taking it first, then row locks in id
// order, keeps the two from deadlocking (they lock the same rows in different orders).
import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Takes the transaction-scoped results lock of one tenant × entity. */
export async function lockEntityResults(db: Db, tenant: string, entity: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${tenant}), hashtext(${`reconcile:${entity}`}))`.execute(
    db,
  );
}

/**
 * For a reviewer's decision about rows of control.discrepancies or control.actions by id: takes
 * each concerned entity's results lock (in entity order), then locks the rows in id order and
 * returns their status as it is under the lock. A row's entity never changes, so the entities are
 * read unlocked.
 */
export async function lockForDecision(
  db: Db,
  table: 'discrepancies' | 'actions',
  tenant: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const from = sql.table(`control.${table}`);
  const entities = await sql<{ entity: string }>`
    SELECT DISTINCT entity FROM ${from} WHERE tenant_id = ${tenant} AND id = ANY(${ids}::bigint[])
     ORDER BY entity`.execute(db);
  for (const { entity } of entities.rows) await lockEntityResults(db, tenant, entity);
  const { rows } = await sql<{ id: string; status: string }>`
    SELECT id::text, status FROM ${from} WHERE tenant_id = ${tenant} AND id = ANY(${ids}::bigint[])
     ORDER BY id FOR UPDATE`.execute(db);
  return new Map(rows.map((r) => [r.id, r.status]));
}
