// The Salesforce sandbox speaks the documented protocol (job lifecycle, locators, maxRecords,
// Sforce-NumberOfRecords, the literal "null" last locator, Sforce-Limit-Info, 409 on another
// API version, auth errors), and the composite-upsert writer gets per-record results from it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { parseSoql } from '../../../pipeline/connectors/salesforce/sandbox-soql.js';
import { SalesforceWriter } from '../../../pipeline/connectors/salesforce/writer.js';
import { FAST_LIMITS, quietLogger, startSandbox, systemConfig } from '../../support/salesforce.js';

let s: SalesforceSandbox;
beforeAll(async () => {
  s = await startSandbox({ seed: 21, accounts: 25 });
});
afterAll(async () => s?.close());

const auth = { authorization: 'Bearer sandbox-token' };
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${s.url}/services/data/v60.0${path}`, {
    ...init,
    headers: { ...auth, 'content-type': 'application/json', ...init.headers },
  });

describe('salesforce sandbox protocol', () => {
  it('runs a Bulk 2.0 query job through its lifecycle and pages by locator', async () => {
    const created = await api('/jobs/query', {
      method: 'POST',
      body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Name FROM Account', contentType: 'CSV' }),
    });
    expect(created.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/\d+$/);
    const job = (await created.json()) as { id: string; state: string; object: string };
    expect(job).toMatchObject({ state: 'UploadComplete', object: 'Account' });
    const early = await api(`/jobs/query/${job.id}/results`);
    expect(early.status).toBe(400);
    expect(await early.json()).toEqual([expect.objectContaining({ errorCode: 'JOB_NOT_COMPLETE' })]);
    expect(((await (await api(`/jobs/query/${job.id}`)).json()) as { state: string }).state).toBe(
      'InProgress',
    );
    expect(await (await api(`/jobs/query/${job.id}`)).json()).toMatchObject({
      state: 'JobComplete',
      numberRecordsProcessed: 25,
    });

    const seen: string[] = [];
    let locator: string | null = null;
    let pages = 0;
    do {
      const res = await api(
        `/jobs/query/${job.id}/results?maxRecords=10${locator ? `&locator=${locator}` : ''}`,
      );
      const lines = (await res.text()).trimEnd().split('\n');
      expect(lines[0]).toBe('"Id","Name"');
      const n = Number(res.headers.get('sforce-numberofrecords'));
      expect(n).toBe(pages < 2 ? 10 : 5);
      for (const l of lines.slice(1)) if (/^"001/.test(l)) seen.push(l.slice(1, 19));
      const next = res.headers.get('sforce-locator');
      locator = next === 'null' ? null : next;
      pages++;
    } while (locator);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);

    const other = await fetch(`${s.url}/services/data/v59.0/jobs/query/${job.id}/results`, { headers: auth });
    expect(other.status).toBe(409);
  });

  it('answers 401 INVALID_SESSION_ID without a valid token and 400 for unknown fields', async () => {
    const res = await fetch(`${s.url}/services/data/v60.0/jobs/query/750`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([
      { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
    ]);
    const bad = await api('/jobs/query', {
      method: 'POST',
      body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Nope__c FROM Account' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual([expect.objectContaining({ errorCode: 'INVALID_FIELD' })]);
  });

  it('query hides deleted records, queryAll shows them with IsDeleted=true', async () => {
    const victim = [...s.rows('Product2')][0]!;
    s.delete('Product2', victim.Id!);
    const run = async (operation: string) => {
      const job = (await (
        await api('/jobs/query', {
          method: 'POST',
          body: JSON.stringify({
            operation,
            query: `SELECT Id, IsDeleted FROM Product2 WHERE SystemModstamp >= 2000-01-01T00:00:00Z`,
          }),
        })
      ).json()) as { id: string };
      await api(`/jobs/query/${job.id}`);
      await api(`/jobs/query/${job.id}`);
      return (await (await api(`/jobs/query/${job.id}/results`)).text()).trimEnd().split('\n').slice(1);
    };
    expect((await run('query')).some((l) => l.includes(victim.Id!))).toBe(false);
    expect(await run('queryAll')).toContain(`"${victim.Id}","true"`);
  });

  it('parses the SOQL subset', () => {
    expect(
      parseSoql(
        "SELECT Id, Name FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00Z AND Name = 'O\\'Brien' ORDER BY SystemModstamp DESC LIMIT 5",
      ),
    ).toEqual({
      fields: ['Id', 'Name'],
      object: 'Account',
      where: [
        { field: 'SystemModstamp', op: '>=', value: '2024-01-01T00:00:00Z' },
        { field: 'Name', op: '=', value: "O'Brien" },
      ],
      orderBy: { field: 'SystemModstamp', desc: true },
      limit: 5,
    });
    expect(() => parseSoql('SELECT FROM')).toThrow(/unexpected/);
    // SOQL datetime literals are whole seconds (WIRE.md "SOQL").
    expect(() =>
      parseSoql('SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00.000Z'),
    ).toThrow(/unexpected/);
  });
});

describe('salesforce writer (composite upsert by external id)', () => {
  const writer = () =>
    SalesforceWriter.open({
      tenant: 'w',
      system: 'crm',
      systemConfig: systemConfig(s),
      logger: quietLogger,
      limits: FAST_LIMITS,
    });

  it('upserts in requests of at most 200 with results in input order', async () => {
    const w = writer();
    const before = s.server.counters.requests;
    const records = Array.from({ length: 450 }, (_, i) => ({
      externalId: `W-${i}`,
      fields: { name: `Written ${i}`, website: 'https://w.example' },
    }));
    const created = await w.upsertCanonical('customer', records);
    // One describe of Account (is ERP_Id__c an External ID?), then three calls of at most 200.
    expect(s.server.counters.requests - before).toBe(4);
    expect(created).toHaveLength(450);
    expect(created.every((r, i) => r.success && r.created === true && r.externalId === `W-${i}`)).toBe(true);
    const row = s.get('Account', created[7]!.id!)!;
    expect(row).toMatchObject({ Name: 'Written 7', Website: 'https://w.example', ERP_Id__c: 'W-7' });

    const stampBefore = Date.parse(row.SystemModstamp!);
    const updated = await w.upsertCanonical('customer', [
      { externalId: 'W-7', fields: { name: 'Rewritten' } },
    ]);
    expect(updated[0]).toMatchObject({ success: true, created: false, id: created[7]!.id });
    const after = s.get('Account', created[7]!.id!)!;
    expect(after.Name).toBe('Rewritten');
    expect(Date.parse(after.SystemModstamp!)).toBeGreaterThan(stampBefore);
    await w.close();
  });

  it('reports per-record errors and goes on (allOrNone false), rolls back all with allOrNone', async () => {
    const w = writer();
    const results = await w.upsert('Account', 'ERP_Id__c', [
      { externalId: 'E-ok', fields: { Name: 'Fine' } },
      { externalId: 'E-noname', fields: { Website: 'x' } },
      { externalId: 'E-ok', fields: { Name: 'Twice' } },
    ]);
    // (A field the object lacks is a 400 for the whole call: salesforce-wire.test.ts, item 8.)
    expect(results.map((r) => [r.success, r.errors[0]?.statusCode ?? null])).toEqual([
      [true, null],
      [false, 'REQUIRED_FIELD_MISSING'],
      [false, 'DUPLICATE_VALUE'],
    ]);
    expect(results[1]!.errors[0]!.fields).toEqual(['Name']);

    const all = await w.upsert(
      'Account',
      'ERP_Id__c',
      [
        { externalId: 'E-all-1', fields: { Name: 'One' } },
        { externalId: 'E-all-2', fields: {} },
      ],
      { allOrNone: true },
    );
    expect(all.map((r) => r.errors[0]?.statusCode)).toEqual([
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      'REQUIRED_FIELD_MISSING',
    ]);
    expect([...s.rows('Account')].some((r) => r.ERP_Id__c === 'E-all-1')).toBe(false);
    await w.close();
  });
});
