// The write-back's read of a Salesforce record as it is now (GET sobjects/{SObject}/{ExternalIdField}/
// {value}?fields=…) is checked before it is read: a 200 that is not the record asked for (no Id,
// a requested field missing, another object's record) is re-read and, if it stays bad, fails the
// read; only Salesforce's own NOT_FOUND 404 is "no such record" — a 404 from anything else is an
// error, never an absent record the write-back would create again.
import { describe, expect, it } from 'vitest';
import type { SandboxResponse } from '../../../pipeline/connectors/http/sandbox-server.js';
import { openWriter } from '../../../pipeline/connectors/open-writer.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_LIMITS, quietLogger, startSandbox, systemConfig } from '../../support/salesforce.js';

const t = useTestDatabase('salesforce_writer_pages');
const isRead = (key: string) => key.startsWith('GET ') && key.includes('/sobjects/Account/ERP_Id__c/');

async function withWriter(
  bad: (n: number, out: SandboxResponse) => SandboxResponse | undefined,
  check: (w: ReturnType<typeof openWriter>, s: SalesforceSandbox) => Promise<void>,
) {
  const s = await startSandbox({ seed: 3, accounts: 3 });
  const writer = openWriter({ staging: t.staging, logger: quietLogger }, 'acme', 'crm', systemConfig(s), {
    limits: { ...FAST_LIMITS, maxRetries: 2 },
  });
  try {
    const [w] = await writer.upsert('customer', [{ key: 'W-1', fields: { name: 'Written' } }]);
    expect(w).toMatchObject({ ok: true });
    let n = 0;
    s.server.tamper = (key, out) => (isRead(key) ? bad(++n, out) : undefined);
    await check(writer, s);
  } finally {
    await writer.close();
    await s.close();
  }
}

const reads = (s: SalesforceSandbox) =>
  [...s.server.requestsByPath].filter(([k]) => isRead(k)).reduce((n, [, v]) => n + v, 0);

describe('Salesforce write-back reads', () => {
  it('a 200 without the record is re-read, and the record is found', async () => {
    await withWriter(
      (n) => (n <= 2 ? { status: 200, body: {} } : undefined),
      async (writer, s) => {
        const [rec] = await writer.read!('customer', [{ key: 'W-1' }]);
        expect(rec).toMatchObject({ key: 'W-1', found: true, fields: { name: 'Written' } });
        expect(reads(s)).toBe(3);
      },
    );
  });

  it('a record missing a requested field, of another external id or another object fails the read', async () => {
    await withWriter(
      (_n, out) => {
        const { Name: _gone, ...rest } = out.body as Record<string, unknown>;
        return { ...out, body: rest };
      },
      async (writer) => {
        await expect(writer.read!('customer', [{ key: 'W-1' }])).rejects.toThrow(
          /\(current Account \(customer\) W-1\) → 200: the response is not a page that can be read \(Name: 1 requested field\(s\) missing \(Name\)\)/,
        );
      },
    );
    await withWriter(
      (_n, out) => ({ ...out, body: { ...(out.body as object), ERP_Id__c: 'W-2' } }),
      async (writer) => {
        await expect(writer.read!('customer', [{ key: 'W-1' }])).rejects.toThrow(
          /ERP_Id__c: is "W-2", not the external id asked for/,
        );
      },
    );
    await withWriter(
      (_n, out) => ({ ...out, body: { ...(out.body as object), attributes: { type: 'Contact' } } }),
      async (writer) => {
        await expect(writer.read!('customer', [{ key: 'W-1' }])).rejects.toThrow(/attributes\.type/);
      },
    );
  });

  it("only Salesforce's NOT_FOUND 404 is an absent record", async () => {
    await withWriter(
      () => ({ status: 404, text: '<html>Not Found</html>', headers: { 'content-type': 'text/html' } }),
      async (writer) => {
        await expect(writer.read!('customer', [{ key: 'W-1' }])).rejects.toThrow(/404/);
      },
    );
    await withWriter(
      () => undefined,
      async (writer) => {
        const recs = await writer.read!('customer', [{ key: 'W-1' }, { key: 'W-404' }]);
        expect(recs.map((r) => [r.key, r.found])).toEqual([
          ['W-1', true],
          ['W-404', false],
        ]);
      },
    );
  });
});
