// The `salesforce` connector: Bulk API 2.0 extraction per SObject, composite upsert write-back,
// a local sandbox, and the bounded re-read (reread.ts: its own queryAll jobs outside the stream's
// resumable window walk, by a SystemModstamp window or Id IN (…)).
import type { Connector } from '../contract.js';
import { asConnectorWriter, inInputOrder } from '../writer-results.js';
import { type SalesforceSystemConfig, salesforceResolvedConfig, salesforceSystemConfig } from './config.js';
import { withSalesforceReads } from './record-reader.js';
import { salesforceRemapper } from './remap.js';
import { rereadSalesforce } from './reread.js';
import { startSalesforceSandbox } from './sandbox-start.js';
import { openSalesforcePass, salesforceMappings } from './streams.js';
import { SalesforceWriter } from './writer.js';

export const salesforceConnector: Connector<SalesforceSystemConfig> = {
  kind: 'salesforce',
  title: 'Salesforce (Bulk API 2.0 queryAll per SObject; composite upsert by external id)',
  configSchema: salesforceSystemConfig,
  parseConfig: (loaded) => salesforceResolvedConfig.parse(loaded),
  capture: { mode: 'passes', open: openSalesforcePass },
  reread: rereadSalesforce,
  remapper: salesforceRemapper,
  writer: (sys, opts = {}) =>
    withSalesforceReads(
      asConnectorWriter(
        salesforceCanonicalWriter(
          SalesforceWriter.open({
            tenant: sys.tenant,
            system: sys.system,
            systemConfig: sys.config,
            logger: sys.logger,
            ...(opts.limits ? { limits: opts.limits } : {}),
            ...(sys.options.refreshAuth ? { refreshAuth: sys.options.refreshAuth } : {}),
            mappings: salesforceMappings(sys, opts.entities),
          }),
        ),
        (r) => ({ externalId: r.key, fields: { ...r.fields } }),
        (records, results) =>
          inInputOrder(
            records,
            results.map((r) => ({
              key: r.externalId,
              ok: r.success,
              id: r.id,
              created: r.created,
              ...(r.success ? {} : { error: firstError(r.errors) }),
            })),
          ),
      ),
      sys,
      opts,
    ),
  sandbox: startSalesforceSandbox,
};

/** upsertCanonical under the name the common interface calls. */
function salesforceCanonicalWriter(w: SalesforceWriter) {
  return { upsert: w.upsertCanonical.bind(w), close: () => w.close() };
}

function firstError(errors: readonly { statusCode: string; message: string }[]) {
  return { code: errors[0]?.statusCode ?? 'UNKNOWN', message: errors.map((e) => e.message).join('; ') };
}
