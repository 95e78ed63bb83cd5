// CSV drops against embedded Postgres: each file processed once by content hash (a duplicate or
// renamed copy is skipped), header mapping, malformed lines dead-lettered with file and line
// while the rest is staged, deletes and versions, and a crash resuming inside a file.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listCheckpoints, loadCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';

const t = useTestDatabase('csv');
let dir: string;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const deps = () => ({ staging: t.staging, logger });

async function drop(tenant: string, entity: string, name: string, text: string, mtime?: Date) {
  const folder = join(dir, tenant, entity);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, name), text);
  if (mtime) await utimes(join(folder, name), mtime, mtime);
}

async function rows(tenant: string, entity = 'customer') {
  const res = await t.staging.pool.query(
    `SELECT source_id, name, tax_id, credit_limit, currency, deleted_at IS NOT NULL AS deleted, version::text
       FROM staging."${entity}" WHERE tenant_id = $1 ORDER BY source_id`,
    [tenant],
  );
  return res.rows;
}

const config = (extra: Record<string, unknown> = {}) => ({
  kind: 'csv',
  role: 'erp',
  dropDir: join(dir, '{tenant}'),
  ...extra,
});

describe('csv drops', () => {
  it('stages a file once; a duplicate (even renamed) is skipped', async () => {
    const text =
      'id,name,tax_id,currency,credit_limit\nC1,Acme,DE1,EUR,"1,000.50"\nC2,"Smith, Jones",,USD,\n';
    await drop('dup', 'customer', '2024-01.csv', text);
    const first = await syncSystem(deps(), 'dup', 'legacy', config());
    expect(first.status).toBe('completed');
    expect(first.streams[0]).toMatchObject({
      stream: 'customer',
      inserted: 2,
      detail: '1 file(s) staged, 0 duplicate(s) skipped',
    });
    expect(await rows('dup')).toEqual([
      expect.objectContaining({
        source_id: 'C1',
        name: 'Acme',
        tax_id: 'DE1',
        credit_limit: '1000.5',
        currency: 'EUR',
      }),
      expect.objectContaining({ source_id: 'C2', name: 'Smith, Jones', tax_id: null, credit_limit: null }),
    ]);
    await drop('dup', 'customer', 'copy-of-2024-01.csv', text);
    const second = await syncSystem(deps(), 'dup', 'legacy', config());
    expect(second.streams[0]).toMatchObject({
      received: 0,
      detail: '0 file(s) staged, 2 duplicate(s) skipped',
    });
    const position = (await loadCheckpoint(t.staging.pool, {
      tenant: 'dup',
      system: 'legacy',
      stream: 'customer',
    })) as {
      processed: string[];
    };
    expect(position.processed).toHaveLength(1);
    expect(position.processed[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('dead-letters malformed lines with file and line number and stages the rest', async () => {
    await drop(
      'bad',
      'customer',
      'export.csv',
      [
        'Kundennummer;Firma;Limit;Aktiv',
        'K1;Alpha;100.00;ja',
        'K2;"Beta',
        'AG";200.00;ja', // a quoted newline: K2 spans lines 3-4
        'K3;Gamma;200.00', // line 5: a cell short
        '',
        'K4;Delta;not-a-number;ja', // line 7: invalid decimal
        ';Nobody;1.00;ja', // line 8: no id
        'K5;Epsilon;5.00;nein',
      ].join('\n'),
    );
    const report = await syncSystem(
      deps(),
      'bad',
      'legacy',
      config({
        delimiter: ';',
        entities: {
          customer: { idColumn: 'Kundennummer', columns: { name: 'Firma', credit_limit: 'Limit' } },
        },
      }),
    );
    expect(report.status).toBe('completed');
    expect(report.streams[0]).toMatchObject({ inserted: 3, deadLettered: 3 });
    expect((await rows('bad')).map((r) => [r.source_id, r.name])).toEqual([
      ['K1', 'Alpha'],
      ['K2', 'Beta\nAG'],
      ['K5', 'Epsilon'],
    ]);
    const dls = await listDeadLetters(t.staging.db, { tenant: 'bad' });
    const file = join(dir, 'bad', 'customer', 'export.csv');
    expect(dls.map((d) => [d.errorKind, d.location, d.sourceId])).toEqual([
      ['parse', `${file} line 5`, 'K3'],
      ['invalid_record', `${file} line 7`, 'K4'],
      ['mapping', `${file} line 8`, null],
    ]);
    expect(dls[0]!.errorMessage).toBe('export.csv line 5: row has 3 cells, the header has 4');
    expect(dls[1]!.errorMessage).toMatch(/export.csv line 7: customer K4: credit_limit: expected a decimal/);
  });

  it('dead-letters values Postgres would reject (impossible date, NUL) with file and line', async () => {
    await drop(
      'pgreject',
      'invoice',
      'inv.csv',
      'id,number,due_date\nI1,INV-1,2024-02-28\nI2,INV-2,2024-02-30\nI3,INV-3,2024-03-01\n',
    );
    // A NUL in a mapped column (name), in an unmapped one (note) and in the id.
    await drop(
      'pgreject',
      'customer',
      'c.csv',
      'id,name,note\nC1,ok,\nC2,bad\0name,\nC3,fine,x\0y\nC\x004,fine,\nC5,fine,\n',
    );
    const rep = await syncSystem(deps(), 'pgreject', 'legacy', config());
    expect(rep.status, rep.error).toBe('completed');
    const invoices = await t.staging.pool.query(
      `SELECT source_id FROM staging.invoice WHERE tenant_id = 'pgreject' ORDER BY 1`,
    );
    expect(invoices.rows.map((r) => r.source_id)).toEqual(['I1', 'I3']);
    expect((await rows('pgreject')).map((r) => r.source_id)).toEqual(['C1', 'C5']);
    const dls = await listDeadLetters(t.staging.db, { tenant: 'pgreject' });
    const where = (f: string) => join(dir, 'pgreject', f);
    expect(dls.map((d) => [d.entity, d.errorKind, d.sourceId, d.location, d.errorMessage]).sort()).toEqual([
      [
        'customer',
        'invalid_record',
        'C2',
        `${where('customer/c.csv')} line 3`,
        expect.stringMatching(/^c\.csv line 3: customer C2: column "name" contains a NUL/),
      ],
      [
        'customer',
        'invalid_record',
        'C3',
        `${where('customer/c.csv')} line 4`,
        expect.stringMatching(/^c\.csv line 4: customer C3: column "note" contains a NUL/),
      ],
      [
        'customer',
        'invalid_record',
        'C\\u00004',
        `${where('customer/c.csv')} line 5`,
        expect.stringMatching(/^c\.csv line 5: customer C\\u00004: column "id"/),
      ],
      [
        'invoice',
        'invalid_record',
        'I2',
        `${where('invoice/inv.csv')} line 3`,
        'inv.csv line 3: invoice I2: due_date: not a real date',
      ],
    ]);
  });

  it('an unterminated quote stops the file there: the rows before it are staged, the rest is one dead letter', async () => {
    await drop('quote', 'customer', 'q.csv', 'id,name\nQ1,One\nQ2,Two\nQ3,"Three\nQ4,Four\n');
    const report = await syncSystem(deps(), 'quote', 'legacy', config());
    expect(report.streams[0]).toMatchObject({ inserted: 2, deadLettered: 1 });
    expect((await rows('quote')).map((r) => r.source_id)).toEqual(['Q1', 'Q2']);
    const [dl] = await listDeadLetters(t.staging.db, { tenant: 'quote' });
    expect(dl!.errorKind).toBe('parse');
    expect(dl!.errorMessage).toMatch(/the rest of the file was not read/);
  });

  it('a file without the id column is one dead letter and is not retried', async () => {
    await drop('nohdr', 'customer', 'a.csv', 'name,tax_id\nAcme,DE1\n');
    const report = await syncSystem(deps(), 'nohdr', 'legacy', config());
    expect(report.streams[0]).toMatchObject({ deadLettered: 1, inserted: 0 });
    const [dl] = await listDeadLetters(t.staging.db, { tenant: 'nohdr' });
    expect(dl!.errorMessage).toMatch(/a.csv line 1: the header has no id column "id"/);
    const again = await syncSystem(deps(), 'nohdr', 'legacy', config());
    expect(again.streams[0]!.detail).toBe('0 file(s) staged, 1 duplicate(s) skipped');
  });

  it('a later drop updates, a delete column tombstones, an older version is ignored', async () => {
    await drop(
      'ver',
      'customer',
      '1.csv',
      'id,name,modified,deleted\nA,One,2024-01-01T00:00:00Z,\nB,Two,2024-01-01T00:00:00Z,\n',
    );
    await drop(
      'ver',
      'customer',
      '2.csv',
      'id,name,modified,deleted\nA,One v2,2024-02-01T00:00:00Z,\nB,Two,2024-02-01T00:00:00Z,yes\nA,stale,2023-12-01T00:00:00Z,\n',
    );
    const cfg = config({ entities: { customer: { versionColumn: 'modified', deleteColumn: 'deleted' } } });
    await syncSystem(deps(), 'ver', 'legacy', cfg);
    expect((await rows('ver')).map((r) => [r.source_id, r.name, r.deleted])).toEqual([
      ['A', 'One v2', false],
      ['B', 'Two', true],
    ]);
  });

  it('a crash part-way through a file resumes after the rows already staged', async () => {
    const lines = ['id,name'];
    for (let i = 0; i < 250; i++) lines.push(`R${String(i).padStart(3, '0')},Name ${i}`);
    await drop('crash', 'customer', 'big.csv', `${lines.join('\n')}\n`);
    let units = 0;
    const cfg = config({ batchSize: 100 });
    const first = await syncSystem(deps(), 'crash', 'legacy', cfg, {
      onUnitStaged: () => {
        if (++units === 2) throw new Error('simulated crash');
      },
    });
    expect(first.status).toBe('failed');
    const cp = (await listCheckpoints(t.staging.db, 'crash'))[0]!;
    expect(cp.position).toMatchObject({ processed: [], current: { rows: 200 } });
    const second = await syncSystem(deps(), 'crash', 'legacy', cfg);
    expect(second.streams[0]).toMatchObject({ received: 50, inserted: 50, updated: 0, ignored: 0 });
    expect(await rows('crash')).toHaveLength(250);
    const third = await syncSystem(deps(), 'crash', 'legacy', cfg);
    expect(third.streams[0]!.detail).toBe('0 file(s) staged, 1 duplicate(s) skipped');
  });

  it('without entity config reads every entity folder present, headers equal to field names', async () => {
    await drop(
      'auto',
      'product',
      'p.csv',
      'id,sku,name,active,list_price,currency\nP1,SKU1,Widget,true,9.99,EUR\n',
    );
    await drop('auto', 'invoice', 'i.csv', 'id,number,total,currency,status\nI1,INV-1,100.00,EUR,open\n');
    const report = await syncSystem(deps(), 'auto', 'legacy', config());
    expect(report.streams.map((s) => [s.stream, s.inserted])).toEqual([
      ['product', 1],
      ['invoice', 1],
    ]);
  });

  it("reads the tenant's entities.<entity>.mapping.<system> under the system's own columns", async () => {
    await drop(
      'over',
      'customer',
      'a.csv',
      'Nr,Firma,Kurz,Land,phone\nK1,Alpha GmbH,Alpha,de,+49 1\nK2,Beta AG,Beta,ch,+41 2\n',
    );
    const system = config({
      entities: { customer: { idColumn: 'Nr', columns: { name: 'Kurz' } } },
    });
    const entities = {
      customer: {
        mapping: {
          legacy: {
            // name ← Firma loses to the system's columns (name ← Kurz); the rest applies.
            fields: { name: 'Firma', legal_name: 'Firma', billing_country: 'Land', phone: '' },
            valueMaps: { billing_country: { de: 'DE', ch: 'CH' } },
          },
        },
        mappingVersion: 5,
      },
    } as never;
    const report = await syncSystem(deps(), 'over', 'legacy', system, { entities });
    expect(report.status).toBe('completed');
    const staged = await t.staging.pool.query(
      `SELECT source_id, name, legal_name, billing_country, phone, mapping_version
         FROM staging.customer WHERE tenant_id = 'over' ORDER BY source_id`,
    );
    expect(staged.rows).toEqual([
      {
        source_id: 'K1',
        name: 'Alpha',
        legal_name: 'Alpha GmbH',
        billing_country: 'DE',
        phone: null,
        mapping_version: 5,
      },
      {
        source_id: 'K2',
        name: 'Beta',
        legal_name: 'Beta AG',
        billing_country: 'CH',
        phone: null,
        mapping_version: 5,
      },
    ]);

    const bad = await syncSystem(deps(), 'over', 'legacy', system, {
      entities: { customer: { mapping: { legacy: { fields: { name: 42 } } } } } as never,
    });
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatch(/entities\.customer\.mapping\.legacy: fields\.name: /);
  });
});
