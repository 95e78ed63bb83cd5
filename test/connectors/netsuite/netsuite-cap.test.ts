// SuiteQL's per-query result cap: the extractor windows its queries so none crosses it. The
// default run uses 30,000 rows against a lowered cap of 10,000 (same code path, three windows);
// TRUEUP_NETSUITE_FULL_SIZE=1 runs the 250,000 rows against the real 100,000 cap.
import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const FULL = process.env.TRUEUP_NETSUITE_FULL_SIZE === '1';
const ROWS = FULL ? 250_000 : 30_000;
const CAP = FULL ? 100_000 : 10_000;

const t = useTestDatabase('netsuite_cap');

describe(`NetSuite: ${ROWS} rows through the ${CAP} per-query cap`, () => {
  it('full load and a tie-heavy incremental both cross the cap completely', {
    timeout: 600_000,
  }, async () => {
    const sb = new NetsuiteSandbox({
      counts: { customer: 0, item: 0, salesorder: 0, invoice: 0, payment: 0 },
      queryResultCap: CAP,
    });
    const base = Date.UTC(2024, 0, 1);
    sb.bulkInsert('customer', ROWS, (i) => ({
      entityid: `C${i}`,
      companyname: `Company ${i}`,
      email: null,
      phone: null,
      currency: 'EUR',
      terms: null,
      creditlimit: 1000,
      externalid: null,
      isinactive: 'F',
      // Few distinct seconds: most rows share their stamp with thousands of others.
      lastmodifieddate: base + (i % 7) * 1000,
    }));
    const url = await sb.listen();
    try {
      const deps = { staging: t.staging, logger: createLogger({ level: 'silent' }) };
      const config = netsuiteConfig(url, {
        streams: ['customer'],
        deletes: false,
        queryResultCap: CAP,
        stageBatchRows: 5000,
      });
      const full = await syncSystem(deps, 'cap', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(full.status).toBe('completed');
      expect(full.streams[0]!.inserted).toBe(ROWS);
      expect(await stagingSnapshot(t, 'cap')).toEqual(sandboxSnapshot(sb));

      // Every row changes within two seconds: the incremental query holds more than the cap.
      const later = Date.now() + 10_000;
      const ids = [...sb.table('customer').keys()];
      ids.forEach((id, i) => {
        sb.update('customer', id, { phone: String(i) }, later + (i % 2) * 1000);
      });
      const inc = await syncSystem(deps, 'cap', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status).toBe('completed');
      expect(inc.streams[0]!.updated).toBe(ROWS);
      expect(inc.streams[0]!.received).toBe(ROWS);
      expect(await stagingSnapshot(t, 'cap')).toEqual(sandboxSnapshot(sb));
    } finally {
      await sb.close();
    }
  });
});
