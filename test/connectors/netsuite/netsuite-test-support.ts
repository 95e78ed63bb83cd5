// Helpers of the NetSuite tests: a system config pointing at a sandbox, and "staging equals the
// sandbox" as comparable snapshots (live ids → version per entity).
import type { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import type { TestDatabase } from '../../support/database.js';

export const FAST_BACKOFF = { minBackoffMs: 1, maxBackoffMs: 5 };

export function netsuiteConfig(url: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'netsuite',
    role: 'erp',
    baseUrl: url,
    accessToken: 'ns-token',
    limits: { requestsPerSecond: 10_000, concurrency: 4, maxRetries: 10, timeoutMs: 10_000 },
    ...extra,
  };
}

const TX_ENTITY: Record<string, string> = { SalesOrd: 'order', CustInvc: 'invoice', CustPymt: 'payment' };

export function sandboxSnapshot(sb: NetsuiteSandbox): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {
    customer: {},
    product: {},
    order: {},
    invoice: {},
    payment: {},
  };
  const put = (entity: string, r: Record<string, unknown>) => {
    out[entity]![String(r.id)] = String(BigInt(r.lastmodifieddate as number) * 1000n);
  };
  for (const r of sb.table('customer').values()) put('customer', r);
  for (const r of sb.table('item').values()) put('product', r);
  for (const r of sb.table('transaction').values()) put(TX_ENTITY[r.type as string]!, r);
  return out;
}

export async function stagingSnapshot(
  db: TestDatabase,
  tenant: string,
): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const e of ['customer', 'product', 'order', 'invoice', 'payment']) {
    out[e] = {};
    const res = await db.staging.pool.query<{ source_id: string; version: string }>(
      `SELECT source_id, version FROM staging."${e}" WHERE tenant_id = $1 AND deleted_at IS NULL`,
      [tenant],
    );
    for (const r of res.rows) out[e][r.source_id] = String(r.version);
  }
  return out;
}
