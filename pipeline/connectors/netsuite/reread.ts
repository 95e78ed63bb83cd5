// The bounded re-read of a `netsuite` system (backfill, issue 18), for each record stream of the
// entity: SuiteQL with a lastmodifieddate window [from, to) (the bounds turned onto the account's
// wall clock, netsuite-account.ts) or `id IN (…)` (at most 1000 ids a query, WIRE.md "SuiteQL"),
// paged by keyset on id at offset 0 like the extraction. Rows map as the extraction maps them
// (version = lastmodifieddate); no checkpoint moves. Deletes are not re-read here: the
// deletedrecord stream stages them. Only checked integers and stamps go into a query.
import { TrueupError } from '../../../staging/model/errors.js';
import type { RereadRequest, SourcePass, StreamOutput, StreamPlan, SystemHandle } from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { refreshingClient } from '../http/system-client.js';
import { objectMappings } from '../map-record.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';
import { type AccountFacts, accountFacts, stampInstant, stampText } from './netsuite-account.js';
import { rowChange } from './netsuite-extractor.js';
import {
  type NetsuiteStreamSpec,
  netsuiteEntity,
  netsuiteStreamSpec,
  SUITEQL_COLUMN,
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
  const { config, tenant, system } = sys;
  if ('ids' in request)
    for (const id of request.ids)
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
        if ('ids' in request) {
          const ids = [...new Set(request.ids)];
          for (let i = 0; i < ids.length; i += IN_LIST_MAX)
            await readKeyset(
              ctx,
              `id IN (${ids
                .slice(i, i + IN_LIST_MAX)
                .map(Number)
                .join(', ')})`,
            );
        } else {
          // Stamp text has whole seconds: the window is widened to them, never narrowed.
          const from = stampText(Date.parse(request.window.from), ctx.facts.zoneOffsetMs);
          const to = stampText(
            Math.ceil(Date.parse(request.window.to) / 1000) * 1000,
            ctx.facts.zoneOffsetMs,
          );
          await readKeyset(
            ctx,
            `lastmodifieddate >= TO_TIMESTAMP('${from}', '${STAMP_FMT}') AND lastmodifieddate < TO_TIMESTAMP('${to}', '${STAMP_FMT}')`,
          );
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

/** Every row matching `condition`, by keyset on id: each page a new query after the last id read. */
async function readKeyset(ctx: ReadContext, condition: string): Promise<void> {
  const { spec, sys } = ctx;
  const cols = [
    'id',
    ...spec.columns,
    ...spec.displayColumns.map((c) => `BUILTIN.DF(${c}) AS ${c}`),
    ...spec.dateColumns.map((d) => `TO_CHAR(${d}, 'YYYY-MM-DD') AS ${d}`),
    `TO_CHAR(lastmodifieddate, '${STAMP_FMT}') AS lastmodified`,
  ];
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
      if (Number.isSafeInteger(id) && id > lastId) lastId = id;
      addRow(ctx, unit, row);
    }
    ctx.out.received(page.items.length);
    await ctx.out.commit({ lastId }, unit, `netsuite ${ctx.stream} re-read`);
    if (!page.hasMore) return;
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
