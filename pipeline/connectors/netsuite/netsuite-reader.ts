// What the write-back step asks of NetSuite besides the record upsert (docs/apply.md): the records
// as they are now, read by external id through SuiteQL (`WHERE externalid IN (…)`, the same
// columns, references and stamp text as the extraction, mapped the same way, so lastmodifieddate
// is the staging version reconciliation saw); and which canonical fields the writer cannot write
// (not mapped, or a SuiteQL column without a REST body field: totals, balances, status).
// Its SuiteQL answers are checked as the extraction's pages are (suiteql-page.ts, plus: `hasMore`
// with no rows is no page) and followed while `hasMore`: a record on a page not read would count
// as absent, and the write-back would take it for one to create.
import type { Entity } from '../../../staging/model/entities.js';
import type { ConnectorWriter, CurrentRecord, SystemHandle, WriterOptions } from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { mapRecord, msToVersion, ownValue, tenantEntityMapping } from '../map-record.js';
import type { NetsuiteSystemConfig } from './config.js';
import { accountFacts, stampInstant } from './netsuite-account.js';
import { type NetsuiteStreamSpec, netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import { REST_RECORDS, restField, STREAM_OF_ENTITY } from './netsuite-rest-fields.js';
import { type SuiteqlRow, suiteqlPage } from './suiteql-page.js';

/** External ids the writer can put into a URL path, and so into a SuiteQL literal without quoting. */
const EXTERNAL_ID = /^[A-Za-z0-9_.:-]{1,255}$/;
const READ_CHUNK = 100;
const READ_PAGE = 1000;

/** A SuiteQL page the write-back reads: the extraction's page shape, and `hasMore` only with rows. */
export const suiteqlReadPage = suiteqlPage.refine((p) => !p.hasMore || p.items.length > 0, {
  message: 'hasMore is true on a page without rows',
  path: ['hasMore'],
});

/** Every row of a SuiteQL query, page after page while `hasMore` (each page checked, see the header). */
export async function suiteqlRows(client: ApiClient, q: string, about: string): Promise<SuiteqlRow[]> {
  const rows: SuiteqlRow[] = [];
  for (let offset = 0; ; ) {
    const page = await client.json('POST', 'services/rest/query/v1/suiteql', {
      query: { limit: READ_PAGE, offset },
      headers: { prefer: 'transient' },
      body: { q },
      schema: suiteqlReadPage,
      about,
    });
    rows.push(...page.items);
    if (!page.hasMore) return rows;
    offset += page.items.length;
  }
}

/** `writer` with reads (on the writer's own client), the fields it cannot write, and a batch size. */
export function withNetsuiteReads(
  writer: ConnectorWriter,
  client: ApiClient,
  sys: SystemHandle<NetsuiteSystemConfig>,
  opts: WriterOptions = {},
): ConnectorWriter {
  const { config, tenant, system } = sys;
  const specOf = (entity: Entity): NetsuiteStreamSpec | undefined => {
    const stream = STREAM_OF_ENTITY[entity];
    return stream
      ? netsuiteStreamSpec(stream, config, tenantEntityMapping(opts.entities, entity, system, SUITEQL_COLUMN))
      : undefined;
  };
  const ownRef = config.role === 'erp' ? 'erp_ref' : 'crm_ref';

  async function readChunk(spec: NetsuiteStreamSpec, keys: readonly string[]): Promise<CurrentRecord[]> {
    const facts = await accountFacts(client);
    const cols = [
      'id',
      'externalid',
      ...spec.columns,
      ...spec.displayColumns.map((c) => `BUILTIN.DF(${c}) AS ${c}`),
      ...spec.dateColumns.map((d) => `TO_CHAR(${d}, 'YYYY-MM-DD') AS ${d}`),
      `TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified`,
    ];
    const q = `SELECT ${[...new Set(cols)].join(', ')} FROM ${spec.table} WHERE externalid IN (${keys
      .map((k) => `'${k}'`)
      .join(', ')})${spec.type ? ` AND type = '${spec.type}'` : ''}`;
    const rows = await suiteqlRows(client, q, `current ${spec.entity} records`);
    const currency = new Set(spec.currencyColumns);
    const out: CurrentRecord[] = [];
    for (const row of rows) {
      const value = (c: string) => {
        const v = ownValue(row, c);
        return currency.has(c) && v != null ? (facts.currencies.get(String(v)) ?? v) : v;
      };
      const stamp = stampInstant(row.lastmodified, facts);
      const fields = mapRecord(spec.entity, spec.mapping, value);
      fields[ownRef] = String(row.id);
      out.push({
        key: String(row.externalid),
        found: true,
        id: String(row.id),
        fields,
        version: stamp === null ? null : msToVersion(stamp),
        sourceUpdatedAt: stamp === null ? null : new Date(stamp).toISOString(),
      });
    }
    return out;
  }

  return {
    ...writer,
    batchLimit: READ_CHUNK,
    upsert: (entity, records, batch) => writer.upsert(entity, records, batch),
    async read(entity, refs) {
      const spec = specOf(entity);
      if (!spec)
        throw new Error(`tenant ${tenant}, system ${system}: netsuite has no record type for ${entity}`);
      const keys = [...new Set(refs.map((r) => r.key).filter((k) => EXTERNAL_ID.test(k)))];
      const found = new Map<string, CurrentRecord>();
      for (let i = 0; i < keys.length; i += READ_CHUNK)
        for (const r of await readChunk(spec, keys.slice(i, i + READ_CHUNK))) found.set(r.key, r);
      return refs.map(
        (r) =>
          found.get(r.key) ?? {
            key: r.key,
            found: false,
            id: null,
            fields: {},
            version: null,
            sourceUpdatedAt: null,
          },
      );
    },
    unwritable(entity, fields) {
      const spec = specOf(entity);
      const stream = STREAM_OF_ENTITY[entity];
      return fields.flatMap((field) => {
        // The internal id and the external id: the identity the upsert goes by.
        if (field === 'crm_ref' || field === 'erp_ref') return [];
        if (!spec || !stream) return [{ field, reason: `has no NetSuite record type (${entity})` }];
        const column = spec.mapping.fields[field];
        if (!column) return [{ field, reason: `is not mapped to a column of NetSuite ${spec.table}` }];
        if (!restField(REST_RECORDS[stream], column))
          return [
            {
              field,
              reason: `is NetSuite column ${column}, which has no REST body field of ${REST_RECORDS[stream].type} (computed or on a sublist)`,
            },
          ];
        return [];
      });
    },
  };
}
