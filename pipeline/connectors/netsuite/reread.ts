// The bounded re-read of a `netsuite` system (backfill, issue 18), for each record stream of the
// entity: SuiteQL with a lastmodifieddate window [from, to) (the bounds turned onto the account's
// wall clock, netsuite-account.ts) or `id IN (…)` (at most 1000 ids a query, WIRE.md "SuiteQL"),
// paged by keyset on id at offset 0 like the extraction. Rows map as the extraction maps them
// (version = lastmodifieddate); no checkpoint moves. Deletes of the slice come from the
// deletedrecord feed the delete stream reads (unless `deletes: false`): records of the stream's
// types deleted within the window (deleteddate on the account's clock), or, of the given ids that
// are no live record, those deletedrecord lists — an id that is simply absent is never a
// tombstone. Only checked integers and stamps go into a query.
import { TrueupError } from '../../../staging/model/errors.js';
import {
  type RereadRequest,
  type SourcePass,
  type StreamOutput,
  type StreamPlan,
  type SystemHandle,
  windowOrIds,
} from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { refreshingClient } from '../http/system-client.js';
import { msToVersion, objectMappings } from '../map-record.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';
import { type AccountFacts, accountFacts, stampInstant, stampText } from './netsuite-account.js';
import { rowChange, streamColumns } from './netsuite-extractor.js';
import {
  type NetsuiteStreamSpec,
  netsuiteEntity,
  netsuiteStreamSpec,
  SUITEQL_COLUMN,
  streamOfDeletedType,
} from './netsuite-mapping.js';
import { bearerSigner, netsuitePolicy, oauth1Signer } from './netsuite-policy.js';
import { type SuiteqlRow, suiteqlPage } from './suiteql-page.js';

/** Ids per `IN (…)` list: SuiteQL runs on Oracle, whose lists hold at most 1000 (ORA-01795). */
export const IN_LIST_MAX = 1000;
const STAMP_FMT = 'YYYY-MM-DD HH24:MI:SS';

export class NetsuiteRereadError extends TrueupError {
  override name = 'NetsuiteRereadError';
}

export function rereadNetsuite(sys: SystemHandle<NetsuiteSystemConfig>, request: RereadRequest): SourcePass {
  const slice = windowOrIds('netsuite', request);
  const { config, tenant, system } = sys;
  if ('ids' in slice)
    for (const id of slice.ids)
      if (!/^\d{1,15}$/.test(id))
        throw new NetsuiteRereadError(
          `tenant ${tenant}, system ${system}: ${JSON.stringify(id)} is not a NetSuite internal id (a whole number)`,
          { subject: { tenant, system, entity: request.entity } },
        );
  const configured = { names: config.streams, entityOf: netsuiteEntity, rule: SUITEQL_COLUMN };
  const specs = objectMappings(sys, configured, (s, tm) => netsuiteStreamSpec(s, config, tm));
  const client = refreshingClient(sys, config.accessToken ?? '', ({ token, refreshAuth }) =>
    netsuitePolicy({
      signer: config.oauth1 ? oauth1Signer(config.oauth1) : bearerSigner(token),
      ...(refreshAuth ? { refreshAuth } : {}),
    }),
  );
  const now = sys.options.now ?? Date.now;
  const stream = (name: NetsuiteStream): StreamPlan => ({
    name,
    entity: request.entity,
    start: () => ({
      mode: 'full',
      read: async (out) => {
        const ctx = {
          sys,
          client,
          spec: specs.get(name)!,
          stream: name,
          out,
          facts: await accountFacts(client, now),
        };
        if ('ids' in slice) {
          const ids = [...new Set(slice.ids)];
          const found = new Set<number>();
          for (let i = 0; i < ids.length; i += IN_LIST_MAX)
            for (const id of await readKeyset(
              ctx,
              `id IN (${ids
                .slice(i, i + IN_LIST_MAX)
                .map(Number)
                .join(', ')})`,
            ))
              found.add(id);
          const missing = ids.map(Number).filter((id) => !found.has(id));
          if (!missing.length) return;
          let deleted = 0;
          if (config.deletes)
            for (let i = 0; i < missing.length; i += IN_LIST_MAX)
              deleted += await readDeleted(
                ctx,
                `recordid IN (${missing.slice(i, i + IN_LIST_MAX).join(', ')})`,
              );
          const absent = missing.length - deleted;
          out.note(
            [
              ...(deleted ? [`${deleted} id(s) in deletedrecord: tombstoned`] : []),
              ...(absent
                ? [
                    `${absent} id(s) neither live nor in deletedrecord${config.deletes ? '' : ' (deletes: false)'}: left as staged`,
                  ]
                : []),
            ].join('; '),
          );
        } else {
          // Stamp text has whole seconds: the window is widened to them, never narrowed.
          const from = stampText(Date.parse(slice.window.from), ctx.facts.zoneOffsetMs);
          const to = stampText(Math.ceil(Date.parse(slice.window.to) / 1000) * 1000, ctx.facts.zoneOffsetMs);
          await readKeyset(
            ctx,
            `lastmodifieddate >= TO_TIMESTAMP('${from}', '${STAMP_FMT}') AND lastmodifieddate < TO_TIMESTAMP('${to}', '${STAMP_FMT}')`,
          );
          if (!config.deletes) return;
          const deleted = await readDeleted(
            ctx,
            `deleteddate >= TO_TIMESTAMP('${from}', '${STAMP_FMT}') AND deleteddate < TO_TIMESTAMP('${to}', '${STAMP_FMT}')`,
          );
          if (deleted) out.note(`${deleted} record(s) deleted in the window: tombstoned`);
        }
      },
    }),
  });
  const streams = config.streams.filter((s) => specs.get(s)!.entity === request.entity);
  return { streams: streams.map(stream), stats: () => ({ ...client.stats }), close: () => client.close() };
}

interface ReadContext {
  sys: SystemHandle<NetsuiteSystemConfig>;
  client: ApiClient;
  spec: NetsuiteStreamSpec;
  stream: NetsuiteStream;
  out: StreamOutput;
  facts: AccountFacts;
}

/**
 * Rows of deletedrecord matching `condition` whose type is this stream's, by keyset on recordid:
 * each a tombstone with version = deleteddate, as the delete stream stages it. Returns how many.
 */
async function readDeleted(ctx: ReadContext, condition: string): Promise<number> {
  const limit = Math.min(ctx.sys.config.pageSize, ctx.sys.config.queryResultCap);
  let lastId = 0;
  let staged = 0;
  for (;;) {
    const page = await ctx.client.json('POST', 'services/rest/query/v1/suiteql', {
      query: { limit, offset: 0 },
      headers: { prefer: 'transient' },
      body: {
        q: `SELECT recordid, type, TO_CHAR(deleteddate, '${STAMP_FMT}') AS deleted FROM deletedrecord WHERE ${condition} AND recordid > ${lastId} ORDER BY recordid`,
      },
      schema: suiteqlPage,
      about: `stream ${ctx.stream}, deletedrecord re-read`,
    });
    const unit = newPendingUnit();
    const before = lastId;
    for (const row of page.items) {
      const id = Number(row.recordid);
      if (!Number.isSafeInteger(id)) continue;
      if (id > lastId) lastId = id;
      const at = stampInstant(row.deleted, ctx.facts);
      // Another stream's type, or an unreadable stamp (the delete stream dead-letters those).
      if (at === null || streamOfDeletedType(String(row.type ?? ''), [ctx.stream]) === null) continue;
      ctx.out.received();
      addChange(unit, ctx.spec.entity, {
        sourceId: String(id),
        version: msToVersion(at),
        op: 'delete',
        raw: row,
        sourceUpdatedAt: new Date(at).toISOString(),
      });
      staged++;
    }
    if (unit.rows)
      await ctx.out.commit({ deletedLastId: lastId }, unit, `netsuite ${ctx.stream} deletedrecord re-read`);
    if (!page.hasMore) return staged;
    if (lastId === before)
      throw new NetsuiteRereadError(
        `netsuite ${ctx.stream}: a deletedrecord page without a readable recordid; cannot page past ${lastId}`,
      );
  }
}

/**
 * Every row matching `condition`, by keyset on id: each page a new query after the last id read.
 * Returns the ids it read.
 */
async function readKeyset(ctx: ReadContext, condition: string): Promise<Set<number>> {
  const seen = new Set<number>();
  const { spec, sys } = ctx;
  const cols = streamColumns(spec);
  const type = spec.type ? ` AND type = '${spec.type}'` : '';
  const limit = Math.min(sys.config.pageSize, sys.config.queryResultCap);
  let lastId = 0;
  for (;;) {
    const page = await ctx.client.json('POST', 'services/rest/query/v1/suiteql', {
      query: { limit, offset: 0 },
      headers: { prefer: 'transient' },
      body: {
        q: `SELECT ${cols.join(', ')} FROM ${spec.table} WHERE ${condition} AND id > ${lastId}${type} ORDER BY id`,
      },
      schema: suiteqlPage,
      about: `stream ${ctx.stream}, re-read`,
    });
    const unit = newPendingUnit();
    const before = lastId;
    for (const row of page.items) {
      const id = Number(row.id);
      if (Number.isSafeInteger(id)) seen.add(id);
      if (Number.isSafeInteger(id) && id > lastId) lastId = id;
      addRow(ctx, unit, row);
    }
    ctx.out.received(page.items.length);
    await ctx.out.commit({ lastId }, unit, `netsuite ${ctx.stream} re-read`);
    if (!page.hasMore) return seen;
    if (lastId === before)
      throw new NetsuiteRereadError(
        `netsuite ${ctx.stream}: a page without a readable id; cannot page past id ${lastId}`,
      );
  }
}

/** One row re-read: staged as the extraction stages it (rowChange), or dead-lettered. */
function addRow(ctx: ReadContext, unit: PendingUnit, row: SuiteqlRow): void {
  const { spec, sys } = ctx;
  const currency = new Set(spec.currencyColumns);
  const id = Number(row.id);
  const stamp = stampInstant(row.lastmodified, ctx.facts);
  const dead = (reason: string) => {
    unit.deadLetters.push({
      tenant: sys.tenant,
      system: sys.system,
      entity: spec.entity,
      sourceId: row.id == null ? null : String(row.id),
      record: { raw: row },
      errorKind: 'mapping',
      errorMessage: `netsuite ${ctx.stream} ${row.id ?? '(no id)'}: ${reason}`,
      location: `netsuite suiteql ${spec.table}`,
    });
    unit.rows++;
  };
  if (!Number.isSafeInteger(id) || stamp === null) {
    dead('row without integer id or readable lastmodifieddate');
    return;
  }
  try {
    addChange(
      unit,
      spec.entity,
      rowChange(spec, row, id, stamp, {
        facts: ctx.facts,
        currency,
        ownRef: sys.config.role === 'erp' ? 'erp_ref' : 'crm_ref',
      }),
    );
  } catch (err) {
    dead((err as Error).message);
  }
}
