// Number and date formats per CSV system (decimalSeparator, thousandsSeparator, dateFormat) and
// naive timestamps read in the system's timezone (issue 12): the README's German example stages,
// a value that does not fit the declared format is a dead letter naming field, value and format.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvSystemConfig } from '../../../pipeline/connectors/csv/config.js';
import { csvTimestamp, epochMicros } from '../../../pipeline/connectors/csv/csv-mapping.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';

const t = useTestDatabase('csvfmt');
let dir: string;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-csvfmt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function drop(tenant: string, folderName: string, name: string, text: string) {
  const folder = join(dir, tenant, folderName);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, name), text);
}

describe('csv formats', () => {
  it("stages the README's German example: ';', 1.234,50, DD.MM.YYYY, Europe/Berlin", async () => {
    await drop(
      'de',
      'kunden',
      'export.csv',
      [
        'Kundennummer;Firma;USt-IdNr;Kreditlimit;GeaendertAm;Geloescht',
        'K1;Müller GmbH;DE123;1.234,50;31.01.2024 14:05;',
        'K2;Schmidt AG;;-12.000,00;01.07.2024 12:00:00;',
        'K3;Weber KG;;50;2024-07-01T12:00:00+00:00;',
        'K4;Bad KG;;1.5;01.07.2024 12:00;',
      ].join('\n'),
    );
    await drop('de', 'invoice', 'rechnungen.csv', 'id;issue_date;total\nR1;29.02.2024;"1.000,00"\n');
    const cfg = {
      kind: 'csv',
      role: 'erp',
      dropDir: join(dir, '{tenant}'),
      delimiter: ';',
      decimalSeparator: ',',
      dateFormat: 'DD.MM.YYYY',
      timezone: 'Europe/Berlin',
      entities: {
        customer: {
          folder: 'kunden',
          idColumn: 'Kundennummer',
          versionColumn: 'GeaendertAm',
          deleteColumn: 'Geloescht',
          columns: { name: 'Firma', tax_id: 'USt-IdNr', credit_limit: 'Kreditlimit' },
        },
        invoice: {},
      },
    };
    const r = await syncSystem({ staging: t.staging, logger }, 'de', 'legacy', cfg);
    expect(r.status, r.error).toBe('completed');
    const rows = await t.staging.pool.query(
      `SELECT source_id, credit_limit::text, version::text, source_updated_at
         FROM staging.customer WHERE tenant_id = 'de' ORDER BY source_id`,
    );
    expect(rows.rows).toEqual([
      // 14:05 in Berlin in winter is 13:05 UTC; 12:00 in summer is 10:00 UTC.
      {
        source_id: 'K1',
        credit_limit: '1234.5',
        version: String(Date.parse('2024-01-31T13:05:00Z') * 1000),
        source_updated_at: new Date('2024-01-31T13:05:00Z'),
      },
      {
        source_id: 'K2',
        credit_limit: '-12000',
        version: String(Date.parse('2024-07-01T10:00:00Z') * 1000),
        source_updated_at: new Date('2024-07-01T10:00:00Z'),
      },
      // A stamp with its own offset keeps it.
      {
        source_id: 'K3',
        credit_limit: '50',
        version: String(Date.parse('2024-07-01T12:00:00Z') * 1000),
        source_updated_at: new Date('2024-07-01T12:00:00Z'),
      },
    ]);
    const inv = await t.staging.pool.query(
      `SELECT source_id, issue_date::text, total::text FROM staging.invoice WHERE tenant_id = 'de'`,
    );
    expect(inv.rows).toEqual([{ source_id: 'R1', issue_date: '2024-02-29', total: '1000' }]);
    // "1.5" is no number when "." groups thousands: a dead letter naming field, value and format.
    const dead = await listDeadLetters(t.staging.db, { tenant: 'de' });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ sourceId: 'K4', errorKind: 'invalid_record' });
    expect(dead[0]!.errorMessage).toMatch(
      /export\.csv line 5: credit_limit: "1\.5" is not a number in the format decimalSeparator ",", thousandsSeparator "\."/,
    );
  });

  it('a date that does not fit dateFormat is a dead letter; the rest of the file stages', async () => {
    await drop('us', 'invoice', 'a.csv', 'id,issue_date,total\nI1,12/31/2024,"1,250.00"\nI2,31/12/2024,5\n');
    const cfg = { kind: 'csv', role: 'erp', dropDir: join(dir, '{tenant}'), dateFormat: 'MM/DD/YYYY' };
    await syncSystem({ staging: t.staging, logger }, 'us', 'legacy', cfg);
    const inv = await t.staging.pool.query(
      `SELECT source_id, issue_date::text, total::text FROM staging.invoice WHERE tenant_id = 'us'`,
    );
    expect(inv.rows).toEqual([{ source_id: 'I1', issue_date: '2024-12-31', total: '1250' }]);
    const dead = await listDeadLetters(t.staging.db, { tenant: 'us' });
    expect(dead.map((d) => d.errorMessage)).toEqual([
      expect.stringMatching(/issue_date: "31\/12\/2024" is not a real date in the format MM\/DD\/YYYY/),
    ]);
  });

  it('config: separators must differ; zones and formats are checked', () => {
    const base = { kind: 'csv', role: 'erp', dropDir: '/x' };
    expect(
      csvSystemConfig.safeParse({ ...base, decimalSeparator: ',', thousandsSeparator: ',' }).success,
    ).toBe(false);
    expect(csvSystemConfig.safeParse({ ...base, thousandsSeparator: '.' }).success).toBe(false);
    expect(csvSystemConfig.safeParse({ ...base, timezone: 'Mars/Olympus' }).success).toBe(false);
    expect(csvSystemConfig.safeParse({ ...base, dateFormat: 'DD.MM.YY' }).success).toBe(false);
    expect(csvSystemConfig.parse({ ...base, decimalSeparator: ',' }).timezone).toBe('UTC');
  });

  it('timestamps: date part in the declared format, naive time in the zone, micros kept', () => {
    const berlin = { timezone: 'Europe/Berlin', dateFormat: 'DD.MM.YYYY' as const };
    expect(csvTimestamp('27.10.2024 02:30', berlin)).toBe('2024-10-27T00:30:00Z');
    expect(csvTimestamp('2024-07-01 12:00:00.123456', berlin)).toBe('2024-07-01T10:00:00.123456Z');
    expect(csvTimestamp('31.02.2024', berlin)).toBeNull();
    expect(csvTimestamp('yesterday', { timezone: 'UTC' })).toBeNull();
    expect(epochMicros('2024-07-01T10:00:00.123456Z')).toBe(
      BigInt(Date.parse('2024-07-01T10:00:00Z')) * 1000n + 123456n,
    );
  });
});
