// The `hubspot` connector: CRM v3 objects (list, then search; archived for deletes), batch upsert
// write-back, a local sandbox, and the bounded re-read (reread.ts: search bounded on both sides of
// the modification stamp, or batch read by id).
import type { Connector } from '../contract.js';
import { outcomeWriter, vendorWriterOptions } from '../writer-results.js';
import { type HubspotSystemConfig, hubspotResolvedConfig, hubspotSystemConfig } from './config.js';
import { withHubspotReads } from './hubspot-reader.js';
import { startHubspotSandbox } from './hubspot-sandbox-start.js';
import { createHubspotWriter } from './hubspot-writer.js';
import { hubspotRemapper } from './remap.js';
import { rereadHubspot } from './reread.js';
import { openHubspotPass } from './streams.js';

export const hubspotConnector: Connector<HubspotSystemConfig> = {
  kind: 'hubspot',
  title: 'HubSpot (CRM v3 objects: list, then search by modification stamp; batch upsert)',
  configSchema: hubspotSystemConfig,
  parseConfig: (loaded) => hubspotResolvedConfig.parse(loaded),
  capture: { mode: 'passes', open: openHubspotPass },
  reread: rereadHubspot,
  remapper: hubspotRemapper,
  // Keyed by the ERP's id (config.erpIdProperty), HubSpot's unique upsert property.
  writer: (sys, opts) => {
    const vendor = createHubspotWriter(
      sys,
      sys.tenant,
      sys.system,
      sys.config,
      vendorWriterOptions(sys, opts),
    );
    return withHubspotReads(
      outcomeWriter(
        vendor,
        // The write-back's idempotency key travels as objectWriteTraceId.
        (r) => ({
          erpId: r.key,
          fields: { ...r.fields },
          ...(r.idempotencyKey ? { traceId: r.idempotencyKey } : {}),
        }),
        { key: 'id', id: 'recordId' },
      ),
      vendor.client,
      sys,
      vendorWriterOptions(sys, opts),
    );
  },
  sandbox: startHubspotSandbox,
};
