// Which SQL errors while evaluating a table's mapping expressions on streamed rows dead-letter the
// row: only data errors (SQLSTATE classes 22 and 23, and P0001 raised by the author's own
// function). Anything else — a column only an expression reads renamed (42703), a permission
// revoked (42501) — is not the row's fault: the table stops with the error, nothing is
// dead-lettered or acknowledged, and once it is fixed the next run reads the same change again.
import { describe, expect, it } from 'vitest';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import { syncOnce, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('cdcsqlstate');
const src = useSourceDatabase();

async function names(system: string): Promise<Record<string, string | null>> {
  const res = await staging.staging.pool.query<{ source_id: string; name: string | null }>(
    `SELECT source_id, name FROM staging.customer WHERE tenant_id = 'acme' AND system = $1 AND deleted_at IS NULL`,
    [system],
  );
  return Object.fromEntries(res.rows.map((r) => [r.source_id, r.name]));
}
const deadLetters = (system: string) => listDeadLetters(staging.staging.db, { tenant: 'acme', system });

function config(table: string, slot: string, name: string): PostgresSystemConfig {
  return systemConfig(src.url, {
    slot,
    publication: slot,
    tables: [{ table, entity: 'customer', key: ['id'], fields: { name: { sql: name } } }],
  });
}

describe('postgres CDC: SQL errors while mapping streamed rows', () => {
  it('a column only an expression reads is renamed (42703): the table stops, nothing acknowledged', async () => {
    await src.pool.query(
      `CREATE TABLE lbl (id int PRIMARY KEY, label text); INSERT INTO lbl VALUES (1, 'L1')`,
    );
    await src.pool.query(`CREATE TABLE rn (id int PRIMARY KEY, lid int); INSERT INTO rn VALUES (1, 1)`);
    const c = config('rn', 'e_rename', '(SELECT label FROM lbl WHERE lbl.id = t.lid)');
    expect((await syncOnce(staging.staging, c, { system: 'rename' })).outcome).toBe('caught_up');
    await src.pool.query(`ALTER TABLE lbl RENAME COLUMN label TO caption`);
    await src.pool.query(`INSERT INTO rn VALUES (2, 1)`);
    const stopped = await syncOnce(staging.staging, c, { system: 'rename' });
    expect(stopped.outcome).toBe('failed');
    expect(String(stopped.error?.message)).toMatch(
      /tenant acme, system rename, table public\.rn \(customer\): .*SQLSTATE 42703.*column "label" does not exist/,
    );
    expect(await deadLetters('rename')).toEqual([]);
    expect(await names('rename')).toEqual({ 1: 'L1' });
    // Fixed: the same change is read again (it was never acknowledged) and staged.
    await src.pool.query(`ALTER TABLE lbl RENAME COLUMN caption TO label`);
    expect((await syncOnce(staging.staging, c, { system: 'rename' })).outcome).toBe('caught_up');
    expect(await names('rename')).toEqual({ 1: 'L1', 2: 'L1' });
    expect(await deadLetters('rename')).toEqual([]);
  });

  it("the table's own column that only an expression reads is renamed: stopped, then read with the fixed mapping", async () => {
    await src.pool.query(`CREATE TABLE own (id int PRIMARY KEY, nm text); INSERT INTO own VALUES (1, 'a')`);
    const c = config('own', 'e_own', 'upper(t.nm)');
    expect((await syncOnce(staging.staging, c, { system: 'own' })).outcome).toBe('caught_up');
    await src.pool.query(`ALTER TABLE own RENAME COLUMN nm TO label`);
    await src.pool.query(`INSERT INTO own VALUES (2, 'b')`);
    const stopped = await syncOnce(staging.staging, c, { system: 'own' });
    expect(stopped.outcome).toBe('failed');
    expect(String(stopped.error?.message)).toMatch(/table public\.own \(customer\): .*SQLSTATE 42703/);
    expect(await deadLetters('own')).toEqual([]);
    // The mapping follows the rename: the change that was not acknowledged is read and staged.
    const fixed = config('own', 'e_own', 'upper(t.label)');
    expect((await syncOnce(staging.staging, fixed, { system: 'own' })).outcome).toBe('caught_up');
    expect(await names('own')).toEqual({ 1: 'A', 2: 'B' });
  });

  it('a revoked permission (42501) stops the table; data errors (22xxx, 23xxx, P0001) dead-letter the row', async () => {
    await src.pool.query(`CREATE TABLE gate (open boolean); INSERT INTO gate VALUES (true)`);
    await src.pool.query(`CREATE FUNCTION guarded(x text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT (SELECT open FROM gate) THEN RAISE EXCEPTION 'permission denied for table secrets' USING ERRCODE = '42501'; END IF;
        IF x = 'bad22' THEN RAISE EXCEPTION 'bad value' USING ERRCODE = '22023'; END IF;
        IF x = 'bad23' THEN RAISE EXCEPTION 'violates check' USING ERRCODE = '23514'; END IF;
        IF x = 'badP0' THEN RAISE EXCEPTION 'author says no'; END IF;
        RETURN x;
      END $$`);
    await src.pool.query(`CREATE TABLE pv (id int PRIMARY KEY, name text); INSERT INTO pv VALUES (1, 'a')`);
    const c = config('pv', 'e_perm', 'guarded(t.name)');
    expect((await syncOnce(staging.staging, c, { system: 'perm' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE gate SET open = false`);
    await src.pool.query(`INSERT INTO pv VALUES (2, 'b')`);
    const stopped = await syncOnce(staging.staging, c, { system: 'perm' });
    expect(stopped.outcome).toBe('failed');
    expect(String(stopped.error?.message)).toMatch(/table public\.pv \(customer\): .*SQLSTATE 42501/);
    expect(await deadLetters('perm')).toEqual([]);
    await src.pool.query(`UPDATE gate SET open = true`);
    await src.pool.query(`INSERT INTO pv VALUES (3, 'bad22'), (4, 'bad23'), (5, 'badP0'), (6, 'f')`);
    expect((await syncOnce(staging.staging, c, { system: 'perm' })).outcome).toBe('caught_up');
    expect(await names('perm')).toEqual({ 1: 'a', 2: 'b', 6: 'f' });
    const dead = await deadLetters('perm');
    expect(dead.map((d) => d.sourceId).sort()).toEqual(['3', '4', '5']);
  });
});
