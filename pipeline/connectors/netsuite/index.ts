// The `netsuite` connector: SuiteQL over REST (keyset pages; deletedrecord for deletes), upsert by
// external id write-back, a local sandbox, and the bounded re-read (reread.ts: a SuiteQL window on
// lastmodifieddate or `id IN (…)`).
import type { Connector } from '../contract.js';
import { outcomeWriter, vendorWriterOptions } from '../writer-results.js';
import { type NetsuiteSystemConfig, netsuiteResolvedConfig, netsuiteSystemConfig } from './config.js';
import { withNetsuiteReads } from './netsuite-reader.js';
import { startNetsuiteSandbox } from './netsuite-sandbox.js';
import { createNetsuiteWriter } from './netsuite-writer.js';
import { netsuiteRemapper } from './remap.js';
import { rereadNetsuite } from './reread.js';
import { openNetsuitePass } from './streams.js';

export const netsuiteConnector: Connector<NetsuiteSystemConfig> = {
  kind: 'netsuite',
  title: 'NetSuite (SuiteQL over REST, keyset pages, deletedrecord; upsert by external id)',
  configSchema: netsuiteSystemConfig,
  parseConfig: (loaded) => netsuiteResolvedConfig.parse(loaded),
  capture: { mode: 'passes', open: openNetsuitePass },
  reread: rereadNetsuite,
  remapper: netsuiteRemapper,
  writer: (sys, opts) => {
    const vendor = createNetsuiteWriter(
      sys,
      sys.tenant,
      sys.system,
      sys.config,
      vendorWriterOptions(sys, opts),
    );
    return withNetsuiteReads(
      outcomeWriter(vendor, (r) => ({ externalId: r.key, fields: { ...r.fields } }), {
        key: 'externalId',
        id: 'internalId',
      }),
      vendor.client,
      sys,
      vendorWriterOptions(sys, opts),
    );
  },
  sandbox: startNetsuiteSandbox,
};
