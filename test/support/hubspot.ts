// Helpers of the HubSpot tests: a silent logger, a system config pointing at a sandbox with short
// backoffs, and "staging equals the sandbox" as comparable snapshots (ids, versions, values).

import type { HubspotObjectType, HubspotSystemConfig } from '../../pipeline/connectors/hubspot/config.js';
import { hubspotObjectMapping } from '../../pipeline/connectors/hubspot/hubspot-mapping.js';
import type { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { mapRecord } from '../../pipeline/connectors/map-record.js';
import { createLogger } from '../../pipeline/log/logger.js';
import type { Entity } from '../../staging/model/entities.js';
import type { TestDatabase } from './database.js';
import { liveRecord, type Snapshot, stagingSnapshot as stagedSnapshot } from './staging.js';

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

// The extraction's defaults (a CRM-role system, no mapping overrides): what the snapshots compare.
const DEFAULT_SYSTEM = {
  role: 'crm',
  erpIdProperty: 'erp_id',
  mapping: {},
} as unknown as HubspotSystemConfig;

/** Canonical fields staged for each entity of `types` (the default mappings plus the record id). */
function stagedFields(types: readonly HubspotObjectType[]): Partial<Record<Entity, string[]>> {
  const out: Partial<Record<Entity, string[]>> = {};
  for (const t of types) {
    const m = hubspotObjectMapping(t, DEFAULT_SYSTEM);
    out[m.entity] = [...new Set([...(out[m.entity] ?? []), 'crm_ref', ...Object.keys(m.mapping.fields)])];
  }
  return out;
}

/**
 * Every live record of `types` as the extraction stages it, per entity: version and the values
 * of the mapped fields, read from the records as the API renders them.
 */
export function sandboxSnapshot(sb: HubspotSandbox, types: readonly HubspotObjectType[]): Snapshot {
  const fields = stagedFields(types);
  const out: Snapshot = {};
  for (const t of types) {
    const m = hubspotObjectMapping(t, DEFAULT_SYSTEM);
    out[m.entity] ??= {};
    for (const r of sb.live(t)) {
      const { properties } = sb.render(t, r);
      const values = { ...mapRecord(m.entity, m.mapping, (p) => properties[p]), crm_ref: r.id };
      out[m.entity]![r.id] = liveRecord(m.entity, BigInt(r.updatedAt) * 1000n, values, fields[m.entity]);
    }
  }
  return out;
}

/** The same from staging: live rows only (tombstones are deletes). */
export function stagingSnapshot(
  db: TestDatabase,
  tenant: string,
  types: readonly HubspotObjectType[],
): Promise<Snapshot> {
  return stagedSnapshot(db.staging, { tenant, fields: stagedFields(types) });
}
