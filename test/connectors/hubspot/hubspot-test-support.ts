// Helpers of the HubSpot tests: a silent logger, a system config pointing at a sandbox with short
// backoffs, and "staging equals the sandbox" as a comparable snapshot.

import type { HubspotObjectType } from '../../../pipeline/connectors/hubspot/config.js';
import type { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import type { TestDatabase } from '../../support/database.js';

export const quietLogger = () => createLogger({ level: 'silent' });

export const FAST_LIMITS = {
  requestsPerSecond: 10_000,
  concurrency: 4,
  maxRetries: 8,
  timeoutMs: 5_000,
};

/** Short backoff bounds (limits.minBackoffMs / maxBackoffMs), given through the sync options. */
export const FAST_BACKOFF = { minBackoffMs: 1, maxBackoffMs: 5 };

export function hubspotConfig(url: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'hubspot',
    role: 'crm',
    baseUrl: url,
    accessToken: 'test-token',
    limits: FAST_LIMITS,
    ...extra,
  };
}

const ENTITY: Record<string, string> = {
  companies: 'customer',
  products: 'product',
  deals: 'order',
  invoices: 'invoice',
};

/** id → version of every live record, per entity, as the sandbox holds them. */
export function sandboxSnapshot(
  sb: HubspotSandbox,
  types: HubspotObjectType[],
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const t of types) {
    const e = ENTITY[t]!;
    out[e] ??= {};
    for (const r of sb.live(t)) out[e][r.id] = String(BigInt(r.updatedAt) * 1000n);
  }
  return out;
}

/** The same from staging: live rows only (tombstones are deletes). */
export async function stagingSnapshot(
  db: TestDatabase,
  tenant: string,
  types: HubspotObjectType[],
): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const t of types) {
    const e = ENTITY[t]!;
    out[e] = {};
    const res = await db.staging.pool.query<{ source_id: string; version: string }>(
      `SELECT source_id, version FROM staging."${e}" WHERE tenant_id = $1 AND deleted_at IS NULL`,
      [tenant],
    );
    for (const r of res.rows) out[e][r.source_id] = String(r.version);
  }
  return out;
}
