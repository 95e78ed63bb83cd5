// The streams of a NetSuite system: each configured record stream (full load by id, then
// incremental on lastmodifieddate), then the deletedrecord stream. One watermark per pass: full
// loads hand over to incremental there, and a first delete pass starts there.
import { firstCheckpoint } from '../../../staging/checkpoints.js';
import type { SourcePass, StreamPlan, SystemHandle } from '../contract.js';
import { phasedStart } from '../full-then-incremental.js';
import { refreshingClient } from '../http/system-client.js';
import { objectMappings } from '../map-record.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';
import {
  type DeletedPosition,
  extractDeletes,
  extractStream,
  type NetsuitePosition,
  toStamp,
} from './netsuite-extractor.js';
import { netsuiteEntity, netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import { bearerSigner, netsuitePolicy, oauth1Signer } from './netsuite-policy.js';

export function openNetsuitePass(sys: SystemHandle<NetsuiteSystemConfig>): SourcePass {
  const { config, options: opts, tenant, system } = sys;
  const configured = { names: config.streams, entityOf: netsuiteEntity, rule: SUITEQL_COLUMN };
  const specs = objectMappings(sys, configured, (s, tm) => netsuiteStreamSpec(s, config, tm));
  const client = refreshingClient(sys, config.accessToken ?? '', ({ token, refreshAuth }) =>
    netsuitePolicy({
      signer: config.oauth1 ? oauth1Signer(config.oauth1) : bearerSigner(token),
      ...(refreshAuth ? { refreshAuth } : {}),
    }),
  );
  const base = { client, tenant, system, config, specs };
  const watermark = toStamp((opts.now ?? Date.now)() - config.overlapMs);
  const streams = config.streams.filter((s) => !opts.streams || opts.streams.includes(s));
  let firstDeletes = false;
  const recordStream = (stream: NetsuiteStream): StreamPlan<NetsuitePosition> => ({
    name: stream,
    entity: specs.get(stream)!.entity,
    start(saved) {
      const start = phasedStart(saved, opts.mode ?? 'auto', () => ({ phase: 'full', lastId: 0, watermark }));
      const position = start.position;
      return {
        mode: start.mode,
        read: async (out) => {
          await extractStream({ ...base, out }, stream, position);
          if (position.phase === 'full' && start.thenIncremental)
            await extractStream({ ...base, out }, stream, {
              phase: 'incremental',
              since: position.watermark,
              lastId: 0,
            });
        },
      };
    },
  });
  const deletes: StreamPlan<DeletedPosition> = {
    name: 'deletedrecord',
    entity: 'customer',
    start: (saved) => ({
      mode: saved && !firstDeletes ? 'incremental' : 'full',
      read: (out) => extractDeletes({ ...base, out }, streams, saved ?? { since: watermark, lastId: 0 }),
    }),
  };
  return {
    streams: [...streams.map(recordStream), ...(config.deletes ? [deletes] : [])],
    // The delete stream's first start is saved before the record streams run: a run stopped
    // before that stream (a daily limit or crash during a full load) would otherwise leave the
    // next run to start it at its own watermark, and a record the load staged and that was
    // deleted meanwhile would stay live.
    async begin() {
      if (!config.deletes) return;
      const key = { tenant, system, stream: 'deletedrecord' };
      firstDeletes = (await firstCheckpoint(sys.staging.pool, key, { since: watermark, lastId: 0 })).created;
    },
    stats: () => ({ ...client.stats }),
    close: () => client.close(),
  };
}
