import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../staging/checkpoints.js';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import { inTransaction } from '../../staging/database.js';
import type { Change } from '../../staging/model/change.js';
import { prepareUnit, stageUnit } from '../../staging/stage.js';
import { writeChanges } from '../../staging/write-changes.js';
import { useTestDatabase } from '../support/database.js';
import { del, up } from '../support/fixtures.js';

const t = useTestDatabase('write');

async function rows(tenant: string, table = 'customer') {
  const res = await t.staging.pool.query(
    table === 'customer'
      ? `SELECT source_id, name, credit_limit, currency, version, deleted_at IS NOT NULL AS deleted, staged_seq
           FROM staging.customer WHERE tenant_id = $1 ORDER BY source_id`
      : `SELECT source_id, version, deleted_at IS NOT NULL AS deleted, staged_seq
           FROM staging."${table}" WHERE tenant_id = $1 ORDER BY source_id`,
    [tenant],
  );
  return res.rows;
}

describe('the staging write path', () => {
  it('inserts, then ignores an identical replay without bumping staged_seq', async () => {
    const batch = {
      tenant: 'replay',
      system: 'crm',
      batches: [
        {
          entity: 'customer' as const,
          changes: [
            up('a', 10n, { name: 'Acme', credit_limit: '100.50', currency: 'EUR' }),
            up('b', 10n, { name: 'Beta' }),
          ],
        },
      ],
      checkpoints: [{ stream: 'accounts', position: { cursor: 10 } }],
    };
    const first = await stageUnit(t.staging.pool, batch);
    expect(first.customer).toMatchObject({ inserted: 2, updated: 0, ignored: 0 });
    const before = await rows('replay');
    const again = await stageUnit(t.staging.pool, batch);
    expect(again.customer).toMatchObject({ inserted: 0, updated: 0, ignored: 2 });
    expect(await rows('replay')).toEqual(before);
    expect(before[0]).toMatchObject({
      source_id: 'a',
      credit_limit: '100.5', // canonical: no trailing fraction zeros
      currency: 'EUR',
      version: '10',
    });
  });

  it('stages a unit prepared ahead of its transaction exactly as the same unit raw', async () => {
    const unit = (tenant: string) => ({
      tenant,
      system: 'crm',
      batches: [
        {
          entity: 'customer' as const,
          changes: [
            up('a', 10n, { name: 'Acme', credit_limit: '100.50', currency: 'EUR' }),
            up('a', 11n, { name: 'Acme 2' }),
            up('b', 10n, { name: 'Beta' }),
            up('bad', 10n, { credit_limit: 'lots' }),
            del('c', 10n),
          ],
        },
        { entity: 'product' as const, changes: [up('p', 1n, { name: 'Widget' })] },
      ],
      location: 'prepared test',
    });
    const raw = await stageUnit(t.staging.pool, unit('raw_unit'));
    const prepared = prepareUnit(unit('prepared_unit'));
    expect(prepared.batches.every((b) => b.prepared)).toBe(true);
    expect(await stageUnit(t.staging.pool, prepared)).toEqual(raw);
    const strip = (r: Record<string, unknown>[]) => r.map(({ staged_seq: _s, ...rest }) => rest);
    expect(strip(await rows('prepared_unit'))).toEqual(strip(await rows('raw_unit')));
    const dead = await listDeadLetters(t.staging.db, { tenant: 'prepared_unit' });
    expect(dead.map((d) => [d.sourceId, d.location])).toEqual([['bad', 'prepared test #4']]);
    // A batch prepared for one tenant is never staged as another's.
    await expect(stageUnit(t.staging.pool, { ...prepared, tenant: 'other_unit' })).rejects.toThrow(
      /prepared for prepared_unit\/crm staged as other_unit\/crm/,
    );
  });

  it('ignores an older version after a newer one and applies a newer one', async () => {
    const pool = t.staging.pool;
    const w = (c: Change[]) =>
      stageUnit(pool, { tenant: 'guard', system: 'erp', batches: [{ entity: 'customer', changes: c }] });
    await w([up('x', 5n, { name: 'v5' })]);
    await w([up('x', 3n, { name: 'v3' })]);
    expect((await rows('guard'))[0].name).toBe('v5');
    await w([up('x', 7n, { name: 'v7' })]);
    expect((await rows('guard'))[0].name).toBe('v7');
    // Equal version with different content: the later arrival wins (same-millisecond edits).
    await w([up('x', 7n, { name: 'v7b' })]);
    expect((await rows('guard'))[0].name).toBe('v7b');
  });

  it('keeps a tombstone against an older or equal upsert and resurrects on a newer one', async () => {
    const pool = t.staging.pool;
    const w = (c: Change[]) =>
      stageUnit(pool, { tenant: 'tomb', system: 'erp', batches: [{ entity: 'invoice', changes: c }] });
    await w([up('i1', 1n, { number: 'INV-1', total: '10.00', currency: 'USD' })]);
    await w([del('i1', 2n)]);
    await w([up('i1', 1n, { number: 'INV-1', total: '99.00', currency: 'USD' })]);
    await w([up('i1', 2n, { number: 'INV-1', total: '98.00', currency: 'USD' })]);
    let r = (await rows('tomb', 'invoice'))[0];
    expect(r.deleted).toBe(true);
    // A delete for a record never seen leaves a tombstone, so its older upsert cannot appear later.
    await w([del('i2', 5n)]);
    await w([up('i2', 4n, { number: 'INV-2' })]);
    r = (await rows('tomb', 'invoice'))[1];
    expect(r).toMatchObject({ source_id: 'i2', deleted: true });
    await w([up('i1', 3n, { number: 'INV-1', total: '11.00', currency: 'USD' })]);
    r = (await rows('tomb', 'invoice'))[0];
    expect(r.deleted).toBe(false);
  });

  it('an ordered unit (one source transaction in several units) wins version ties; an unordered one does not', async () => {
    const pool = t.staging.pool;
    const w = (ordered: boolean, c: Change[]) =>
      stageUnit(pool, {
        tenant: 'ordered',
        system: 'erp',
        batches: [{ entity: 'invoice', changes: c }],
        ...(ordered ? { ordered } : {}),
      });
    await w(false, [up('k', 7n, { number: 'K-1' }), up('u', 7n, { number: 'U-1' })]);
    // The same transaction (version 7) deletes both keys, then re-creates them, in later units.
    await w(true, [del('k', 7n), del('u', 7n)]);
    await w(true, [up('k', 7n, { number: 'K-2' })]);
    await w(false, [up('u', 7n, { number: 'U-2' })]);
    const [k, u] = await rows('ordered', 'invoice');
    expect(k).toMatchObject({ source_id: 'k', deleted: false });
    expect(u).toMatchObject({ source_id: 'u', deleted: true });
    // Replaying the ordered units in order ends where they ended; an older version still loses.
    await w(true, [del('k', 7n)]);
    await w(true, [up('k', 7n, { number: 'K-2' })]);
    await w(true, [up('k', 6n, { number: 'K-0' })]);
    const r = await pool.query(
      `SELECT number, deleted_at IS NULL AS live FROM staging.invoice WHERE tenant_id = 'ordered' AND source_id = 'k'`,
    );
    expect(r.rows[0]).toEqual({ number: 'K-2', live: true });
    // A unit prepared without the flag cannot be staged as ordered (or the reverse).
    const plain = prepareUnit({
      tenant: 'ordered',
      system: 'erp',
      batches: [{ entity: 'invoice', changes: [del('k', 8n)] }],
    });
    await expect(stageUnit(pool, { ...plain, ordered: true })).rejects.toThrow(/ordered/);
  });

  it('keeps unchanged-TOAST columns as staged and merges raw', async () => {
    const pool = t.staging.pool;
    const w = (c: Change[]) =>
      stageUnit(pool, { tenant: 'toast', system: 'erp', batches: [{ entity: 'customer', changes: c }] });
    await w([
      up(
        'c',
        1n,
        { name: 'Long', email: 'a@b.c' },
        { name: 'Long', email: 'a@b.c', notes: 'x'.repeat(10_000) },
      ),
    ]);
    await w([
      {
        sourceId: 'c',
        version: 2n,
        op: 'upsert',
        fields: { email: 'new@b.c' },
        raw: { email: 'new@b.c' },
        keepFields: ['name'],
      },
    ]);
    const res = await pool.query(
      `SELECT name, email, raw->>'notes' AS notes FROM staging.customer WHERE tenant_id = 'toast'`,
    );
    expect(res.rows[0]).toEqual({ name: 'Long', email: 'new@b.c', notes: 'x'.repeat(10_000) });
  });

  it('ignores a replayed partial (keepFields) upsert', async () => {
    const w = (c: Change[]) =>
      stageUnit(t.staging.pool, {
        tenant: 'toast_replay',
        system: 'pg',
        batches: [{ entity: 'customer', changes: c }],
      });
    await w([up('a', 1n, { name: 'A', email: 'a@x' }, { name: 'A', email: 'a@x' })]);
    const partial: Change = { ...up('a', 2n, { name: 'B' }, { name: 'B' }), keepFields: ['email'] };
    expect((await w([partial])).customer).toMatchObject({ updated: 1 });
    const before = await rows('toast_replay');
    expect((await w([partial])).customer).toMatchObject({ updated: 0, ignored: 1 });
    expect(await rows('toast_replay')).toEqual(before);
  });

  it('on a version tie, never overwrites a row staged under a newer mapping version', async () => {
    const w = (c: Change[]) =>
      stageUnit(t.staging.pool, {
        tenant: 'mapping_tie',
        system: 'crm',
        batches: [{ entity: 'customer', changes: c }],
      });
    const v1: Change = { ...up('a', 7n, { name: 'old mapping' }, { Name: 'x' }), mappingVersion: 1 };
    const v2: Change = { ...up('a', 7n, { name: 'new mapping' }, { Name: 'x' }), mappingVersion: 2 };
    await w([v1]);
    expect((await w([v2])).customer).toMatchObject({ updated: 1 }); // newer mapping, same version
    expect((await w([v1])).customer).toMatchObject({ updated: 0, ignored: 1 }); // an old batch replayed
    const partial: Change = { ...v1, keepFields: ['email'] };
    expect((await w([partial])).customer).toMatchObject({ updated: 0, ignored: 1 });
    const res = await t.staging.pool.query(
      `SELECT name, mapping_version FROM staging.customer WHERE tenant_id = 'mapping_tie'`,
    );
    expect(res.rows).toEqual([{ name: 'new mapping', mapping_version: 2 }]);
    // A newer version applies whatever its mapping version.
    expect((await w([{ ...v1, version: 8n }])).customer).toMatchObject({ updated: 1 });
  });

  it('dead-letters invalid records with their reason and stages the rest', async () => {
    const res = await stageUnit(t.staging.pool, {
      tenant: 'bad',
      system: 'crm',
      location: 'accounts.csv',
      batches: [
        {
          entity: 'customer',
          changes: [
            up('ok', 1n, { name: 'Fine' }),
            up('comma', 1n, { name: 'Comma', credit_limit: '12,5' }),
            up('cur', 1n, { currency: 'euro' }),
            up('', 1n, { name: 'no id' }),
            up('unknown', 1n, { nickname: 'x' }),
          ],
        },
      ],
    });
    expect(res.customer).toMatchObject({ received: 5, inserted: 1, deadLettered: 4 });
    const dl = await listDeadLetters(t.staging.db, { tenant: 'bad' });
    expect(dl.map((d) => d.errorMessage).sort()).toEqual([
      'customer "": sourceId must be a non-empty string',
      expect.stringMatching(/^customer "comma": credit_limit: expected a decimal number .*\(got "12,5"\)$/),
      expect.stringMatching(/^customer "cur": currency: expected an ISO 4217 code/),
      expect.stringMatching(/^customer "unknown": .*nickname/),
    ]);
    expect(dl.find((d) => d.sourceId === 'comma')?.location).toBe('accounts.csv #2');
  });

  it('writes neither rows nor checkpoint when the transaction fails mid-batch', async () => {
    const pool = t.staging.pool;
    await expect(
      inTransaction(pool, async (client) => {
        await writeChanges(client, {
          tenant: 'atomic',
          system: 'crm',
          entity: 'customer',
          changes: [up('a', 1n, { name: 'A' })],
        });
        await client.query(
          `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ('atomic', 'crm', 's', '{"at":1}')`,
        );
        throw new Error('crash after the rows, before commit');
      }),
    ).rejects.toThrow('crash');
    expect(await rows('atomic')).toEqual([]);
    expect(await loadCheckpoint(pool, { tenant: 'atomic', system: 'crm', stream: 's' })).toBeUndefined();
  });

  it('stages a 100k-row batch and then updates every row', async () => {
    const n = 100_000;
    const make = (v: bigint) =>
      Array.from({ length: n }, (_, i) =>
        up(`c${i}`, v, {
          name: `Customer ${i} ${v}`,
          email: `c${i}@example.com`,
          credit_limit: `${i}.25`,
          currency: 'USD',
        }),
      );
    const a = await stageUnit(t.staging.pool, {
      tenant: 'big',
      system: 'crm',
      batches: [{ entity: 'customer', changes: make(1n) }],
    });
    expect(a.customer?.inserted).toBe(n);
    const b = await stageUnit(t.staging.pool, {
      tenant: 'big',
      system: 'crm',
      batches: [{ entity: 'customer', changes: make(2n) }],
    });
    expect(b.customer?.updated).toBe(n);
    const res = await t.staging.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT staged_seq)::int AS seqs FROM staging.customer WHERE tenant_id = 'big' AND version = 2`,
    );
    expect(res.rows[0]).toEqual({ n, seqs: n });
  });

  it('takes values, never SQL: hostile tenant ids and source ids are stored as given', async () => {
    const tenant = `o'brien"; DROP TABLE staging.customer; -- ünï 名`;
    await stageUnit(t.staging.pool, {
      tenant,
      system: `sys "q"`,
      batches: [{ entity: 'order', changes: [up(`id'1"`, 1n, { number: `N°'"1` })] }],
    });
    const res = await t.staging.pool.query(
      `SELECT tenant_id, system, source_id, number FROM staging."order" WHERE tenant_id = $1`,
      [tenant],
    );
    expect(res.rows).toEqual([{ tenant_id: tenant, system: `sys "q"`, source_id: `id'1"`, number: `N°'"1` }]);
  });
});
