import { describe, expect, it } from 'vitest';
import { discardDeadLetters, listDeadLetters } from '../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../staging/control/replay-dead-letters.js';
import { remapEntity } from '../../staging/remap.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('remap');

describe('re-mapping from raw', () => {
  it('recomputes canonical columns for one tenant and entity and bumps staged_seq', async () => {
    const pool = t.staging.pool;
    const changes = ['1', '2', '3'].map((id) => ({
      sourceId: id,
      version: 5n,
      op: 'upsert' as const,
      fields: { name: `n${id}` },
      raw: { Name: `n${id}`, Terms: id === '3' ? 'bogus' : 'Net 30' },
    }));
    await stageUnit(pool, { tenant: 'rm', system: 'erp', batches: [{ entity: 'customer', changes }] });
    await stageUnit(pool, { tenant: 'other', system: 'erp', batches: [{ entity: 'customer', changes }] });
    const before = await pool.query(`SELECT max(staged_seq)::bigint AS s FROM staging.customer`);
    const res = await remapEntity(pool, {
      tenant: 'rm',
      system: 'erp',
      entity: 'customer',
      mappingVersion: 2,
      map: (raw) => {
        const r = raw as { Name: string; Terms: string };
        if (r.Terms === 'bogus') throw new Error('payment terms "bogus" are not in the value map');
        return { name: r.Name.toUpperCase(), payment_terms: r.Terms.toLowerCase().replace(' ', '') };
      },
    });
    expect(res).toEqual({ scanned: 3, updated: 2, deadLettered: 1 });
    const rows = await pool.query(
      `SELECT tenant_id, source_id, name, payment_terms, mapping_version, staged_seq > $1 AS bumped FROM staging.customer ORDER BY 1, 2`,
      [before.rows[0].s],
    );
    expect(rows.rows.filter((r) => r.tenant_id === 'rm')).toEqual([
      {
        tenant_id: 'rm',
        source_id: '1',
        name: 'N1',
        payment_terms: 'net30',
        mapping_version: 2,
        bumped: true,
      },
      {
        tenant_id: 'rm',
        source_id: '2',
        name: 'N2',
        payment_terms: 'net30',
        mapping_version: 2,
        bumped: true,
      },
      { tenant_id: 'rm', source_id: '3', name: 'n3', payment_terms: null, mapping_version: 1, bumped: false },
    ]);
    expect(
      rows.rows.filter((r) => r.tenant_id === 'other').every((r) => r.mapping_version === 1 && !r.bumped),
    ).toBe(true);
    const dl = await listDeadLetters(t.staging.db, { tenant: 'rm' });
    expect(dl).toMatchObject([
      {
        errorKind: 'mapping',
        sourceId: '3',
        errorMessage: 'customer "3": payment terms "bogus" are not in the value map',
      },
    ]);
  });
});

describe('dead letters', () => {
  it("replays a tenant's letters a page at a time, each once, however many there are", async () => {
    const changes = Array.from({ length: 600 }, (_, i) => ({
      sourceId: `p${i}`,
      version: 1n,
      op: 'upsert' as const,
      fields: { currency: 'euro' },
    }));
    await stageUnit(t.staging.pool, {
      tenant: 'page',
      system: 'crm',
      batches: [{ entity: 'customer', changes }],
    });
    const res = await replayDeadLetters(t.staging, { tenant: 'page' });
    expect(res.replayed).toEqual([]);
    expect(res.failed).toHaveLength(600);
    expect(new Set(res.failed.map((f) => f.id)).size).toBe(600);
  });

  it('counts repeats as attempts, replays what is now valid, keeps what is not, discards on request', async () => {
    const pool = t.staging.pool;
    const bad = { sourceId: 'x', version: 1n, op: 'upsert' as const, fields: { currency: 'euro' } };
    for (let i = 0; i < 3; i++)
      await stageUnit(pool, {
        tenant: 'dl',
        system: 'crm',
        batches: [{ entity: 'customer', changes: [bad] }],
      });
    let open = await listDeadLetters(t.staging.db, { tenant: 'dl' });
    expect(open).toHaveLength(1);
    expect(open[0]!.attempts).toBe(3);

    // Still invalid: replay fails and the dead letter stays open.
    let res = await replayDeadLetters(t.staging, { tenant: 'dl' });
    expect(res.failed).toEqual([
      { id: open[0]!.id, message: expect.stringMatching(/^still invalid: customer "x": currency: /) },
    ]);
    // The original reason stays; the replay's own failure is kept beside it, never nested.
    await replayDeadLetters(t.staging, { tenant: 'dl' });
    const [again] = await listDeadLetters(t.staging.db, { tenant: 'dl' });
    expect(again).toMatchObject({ attempts: 5, errorMessage: open[0]!.errorMessage });
    expect(again!.lastReplayError).toMatch(
      /^still invalid: customer "x": currency: expected an ISO 4217 code/,
    );
    // Fixed (here by hand; in practice after a mapping change): replayed and staged.
    await pool.query(
      `UPDATE control.dead_letters SET record = jsonb_set(record, '{change,fields,currency}', '"EUR"') WHERE tenant_id = 'dl'`,
    );
    res = await replayDeadLetters(t.staging, { tenant: 'dl' });
    expect(res.replayed).toHaveLength(1);
    expect((await pool.query(`SELECT currency FROM staging.customer WHERE tenant_id = 'dl'`)).rows).toEqual([
      { currency: 'EUR' },
    ]);
    expect(await listDeadLetters(t.staging.db, { tenant: 'dl' })).toHaveLength(0);

    await stageUnit(pool, {
      tenant: 'dl',
      system: 'crm',
      batches: [{ entity: 'customer', changes: [{ ...bad, sourceId: 'y' }] }],
    });
    open = await listDeadLetters(t.staging.db, { tenant: 'dl' });
    expect(await discardDeadLetters(t.staging.db, 'dl', [open[0]!.id])).toBe(1);
    expect(await discardDeadLetters(t.staging.db, 'other-tenant', [open[0]!.id])).toBe(0);
    const all = await listDeadLetters(t.staging.db, { tenant: 'dl', status: 'all' });
    expect(all.map((d) => d.status).sort()).toEqual(['discarded', 'replayed']);
  });
});
