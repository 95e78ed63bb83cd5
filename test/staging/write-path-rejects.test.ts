// Values that pass a loose check but that Postgres rejects (an impossible date, a NUL character)
// must become dead letters naming entity, record and field, never abort the batch; dead letters
// themselves must be storable (NUL) and insertable together (the same record twice in a batch).
import { describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import type { Change } from '../../staging/model/change.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { up } from '../support/fixtures.js';

const t = useTestDatabase('rejects');

async function ids(tenant: string, table = 'customer'): Promise<string[]> {
  const res = await t.staging.pool.query<{ source_id: string }>(
    `SELECT source_id FROM staging."${table}" WHERE tenant_id = $1 ORDER BY source_id`,
    [tenant],
  );
  return res.rows.map((r) => r.source_id);
}
const stage = (tenant: string, entity: 'customer' | 'invoice' | 'payment', changes: Change[]) =>
  stageUnit(t.staging.pool, {
    tenant,
    system: 'erp',
    location: 'batch.json',
    batches: [{ entity, changes }],
    checkpoints: [{ stream: entity, position: 1 }],
  });

describe('values Postgres would reject are dead letters, the rest of the batch is staged', () => {
  it('an impossible calendar date (2024-02-30) or timestamp', async () => {
    const res = await stage('rj_date', 'invoice', [
      up('good', 1n, { number: 'INV-1', due_date: '2024-02-29' }),
      up('bad', 1n, { number: 'INV-2', due_date: '2024-02-30' }),
      up('year0', 1n, { number: 'INV-3', issue_date: '0000-01-01' }),
      { ...up('stamp', 1n, { number: 'INV-4' }), sourceUpdatedAt: '2023-02-29T10:00:00Z' },
      { ...up('hour', 1n, { number: 'INV-5' }), sourceUpdatedAt: '2024-01-01T24:30:00Z' },
      { ...up('stamp_ok', 1n, { number: 'INV-6' }), sourceUpdatedAt: '2024-01-01 10:00:00.123456+05:30' },
    ]);
    expect(res.invoice).toMatchObject({ received: 6, inserted: 2, deadLettered: 4 });
    expect(await ids('rj_date', 'invoice')).toEqual(['good', 'stamp_ok']);
    const dl = await listDeadLetters(t.staging.db, { tenant: 'rj_date' });
    expect(dl.map((d) => [d.sourceId, d.errorMessage, d.location])).toEqual([
      ['bad', 'invoice "bad": due_date: not a real date', 'batch.json #2'],
      ['year0', 'invoice "year0": issue_date: not a real date', 'batch.json #3'],
      [
        'stamp',
        expect.stringMatching(/^invoice "stamp": sourceUpdatedAt "2023-02-29T10:00:00Z" is not/),
        'batch.json #4',
      ],
      ['hour', expect.stringMatching(/^invoice "hour": sourceUpdatedAt /), 'batch.json #5'],
    ]);
  });

  it('a NUL character in a text field, inside a json field, in raw or in the source id', async () => {
    const res = await stage('rj_nul', 'payment', [
      up('good', 1n, { number: 'P1', applied_invoices: ['I1'] }),
      up('text', 1n, { number: 'P\u00002' }, {}),
      up('json', 1n, { number: 'P3', applied_invoices: ['a\u0000b'] }, {}),
      up('raw', 1n, { number: 'P4' }, { Number: 'P\u00004', 'k\u0000': 1 }),
      up('id\u0000x', 1n, { number: 'P5' }, {}),
      { sourceId: 'del', version: 1n, op: 'delete', raw: { why: '\u0000' } },
      // The escaped text "\u0000" is no NUL: it is staged.
      up('escaped', 1n, { number: 'P\\u00006', applied_invoices: ['\\u0000'] }, { n: '\\u0000' }),
    ]);
    expect(res.payment).toMatchObject({ received: 7, inserted: 2, deadLettered: 5 });
    expect(await ids('rj_nul', 'payment')).toEqual(['escaped', 'good']);
    const dl = await listDeadLetters(t.staging.db, { tenant: 'rj_nul' });
    expect(dl.map((d) => [d.sourceId, d.errorMessage])).toEqual([
      ['text', 'payment "text": number: contains a NUL character (\\u0000), which Postgres cannot store'],
      ['json', expect.stringMatching(/^payment "json": applied_invoices: must be JSON without NUL/)],
      ['raw', 'payment "raw": raw contains a NUL character, which Postgres jsonb cannot store'],
      // Stored NUL-safe: the NUL is replaced by the visible text \u0000.
      ['id\\u0000x', 'payment "id\\u0000x": sourceId contains a NUL character, which Postgres cannot store'],
      ['del', 'payment "del": raw contains a NUL character, which Postgres jsonb cannot store'],
    ]);
    const raw = dl.find((d) => d.sourceId === 'raw')!.record as {
      change: { raw: Record<string, unknown> };
      nulReplaced: boolean;
    };
    expect(raw.nulReplaced).toBe(true);
    expect(raw.change.raw).toEqual({ Number: 'P\\u00004', 'k\\u0000': 1 });
  });

  it('a mapping dead letter holding a NUL in its record and source id is stored', async () => {
    const { addDeadLetters } = await import('../../staging/control/dead-letters.js');
    const { inTransaction } = await import('../../staging/database.js');
    await inTransaction(t.staging.pool, (client) =>
      addDeadLetters(client, [
        {
          tenant: 'rj_dl',
          system: 'crm',
          entity: 'customer',
          sourceId: 'a\u0000',
          record: ['x\u0000'],
          errorKind: 'mapping',
          errorMessage: 'bad\u0000',
          location: 'f\u0000.csv line 2',
        },
      ]),
    );
    const [dl] = await listDeadLetters(t.staging.db, { tenant: 'rj_dl' });
    expect(dl).toMatchObject({
      sourceId: 'a\\u0000',
      record: { record: ['x\\u0000'], nulReplaced: true },
      errorMessage: 'bad\\u0000',
      location: 'f\\u0000.csv line 2',
    });
  });

  it('the same invalid record twice in one batch is one dead letter with both attempts', async () => {
    const bad = up('dup', 1n, { currency: 'euro' });
    const res = await stage('rj_dup', 'customer', [up('good', 1n, { name: 'ok' }), bad, { ...bad }]);
    expect(res.customer).toMatchObject({ inserted: 1, deadLettered: 2 });
    expect(await ids('rj_dup')).toEqual(['good']);
    let dl = await listDeadLetters(t.staging.db, { tenant: 'rj_dup' });
    expect(dl.map((d) => [d.sourceId, d.attempts, d.location])).toEqual([['dup', 2, 'batch.json #3']]);
    // A record without NUL is stored as it was.
    expect(dl[0]!.record).toEqual({
      change: {
        sourceId: 'dup',
        version: '1',
        op: 'upsert',
        fields: { currency: 'euro' },
        raw: { currency: 'euro' },
      },
    });
    await stage('rj_dup', 'customer', [bad]);
    dl = await listDeadLetters(t.staging.db, { tenant: 'rj_dup' });
    expect(dl.map((d) => [d.sourceId, d.attempts])).toEqual([['dup', 3]]);
  });
});
