// Helpers of the NetSuite tests: a system config pointing at a sandbox, and "staging equals the
// sandbox" as comparable snapshots (live ids → version and field values per entity).
import { mapRecord } from '../../pipeline/connectors/map-record.js';
import { NETSUITE_STREAMS, type NetsuiteSystemConfig } from '../../pipeline/connectors/netsuite/config.js';
import { netsuiteStreamSpec } from '../../pipeline/connectors/netsuite/netsuite-mapping.js';
import type { NetsuiteSandbox } from '../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { parseSuiteql } from '../../pipeline/connectors/netsuite/suiteql-parser.js';
import type { Entity } from '../../staging/model/entities.js';
import type { TestDatabase } from './database.js';
import { liveRecord, type Snapshot, stagingSnapshot as stagedSnapshot } from './staging.js';

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

// The extraction's defaults (an ERP-role system, no mapping overrides): what the snapshots compare.
const DEFAULT_SYSTEM = { role: 'erp', mapping: {} } as unknown as NetsuiteSystemConfig;
const specs = () => NETSUITE_STREAMS.map((s) => netsuiteStreamSpec(s, DEFAULT_SYSTEM));

/** Canonical fields staged per entity (the default mappings plus the record id). */
function stagedFields(): Partial<Record<Entity, string[]>> {
  return Object.fromEntries(specs().map((s) => [s.entity, ['erp_ref', ...Object.keys(s.mapping.fields)]]));
}

/**
 * Every record of the five streams as the extraction stages it, per entity: version and the
 * values of the mapped fields, read through the sandbox's own SuiteQL (dates as TO_CHAR text).
 */
export function sandboxSnapshot(sb: NetsuiteSandbox): Snapshot {
  const fields = stagedFields();
  const out: Snapshot = {};
  for (const spec of specs()) {
    const columns = [
      'id',
      'lastmodifieddate',
      ...spec.columns,
      // References read by name (WIRE.md): the extraction selects BUILTIN.DF(terms).
      ...spec.displayColumns.map((c) => `BUILTIN.DF(${c}) AS ${c}`),
      ...spec.dateColumns.map((d) => `TO_CHAR(${d}, 'YYYY-MM-DD') AS ${d}`),
    ];
    const q = `SELECT ${columns.join(', ')} FROM ${spec.table}${spec.type ? ` WHERE type = '${spec.type}'` : ''}`;
    const parsed = parseSuiteql(q);
    out[spec.entity] = {};
    for (const stored of sb.query(q)) {
      const row = sb.project(parsed, stored);
      // Currency references come as internal ids; the extraction stages their ISO code.
      for (const c of spec.currencyColumns)
        if (row[c] != null) row[c] = sb.lists.currency.get(Number(row[c]))?.symbol;
      const values = { ...mapRecord(spec.entity, spec.mapping, (c) => row[c]), erp_ref: String(stored.id) };
      const version = BigInt(stored.lastmodifieddate as number) * 1000n;
      out[spec.entity]![String(stored.id)] = liveRecord(spec.entity, version, values, fields[spec.entity]);
    }
  }
  return out;
}

/** The same from staging: live rows only (tombstones are deletes). */
export function stagingSnapshot(db: TestDatabase, tenant: string): Promise<Snapshot> {
  return stagedSnapshot(db.staging, { tenant, fields: stagedFields() });
}
