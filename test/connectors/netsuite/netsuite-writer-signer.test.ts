import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { createNetsuiteWriter } from '../../../pipeline/connectors/netsuite/netsuite-writer.js';
import {
  oauth1Header,
  percentEncode,
  sign,
  signatureBaseString,
} from '../../../pipeline/connectors/netsuite/oauth1-signer.js';
import { parseSuiteql } from '../../../pipeline/connectors/netsuite/suiteql-parser.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

describe('OAuth 1.0a signer', () => {
  it('builds the RFC 5849 §3.4.1.1 example signature base string', () => {
    const url = new URL('http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b');
    const base = signatureBaseString('POST', url, [
      ['oauth_consumer_key', '9djdj82h48djs9d2'],
      ['oauth_token', 'kkk9d7dh3k39sjv7'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131201'],
      ['oauth_nonce', '7d8f3e4a'],
      ['c2', ''],
      ['a3', '2 q'],
    ]);
    expect(base).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });

  it('signs the OAuth Core 1.0 photos example (HMAC-SHA1 vector) and the same request with HMAC-SHA256', () => {
    const creds = {
      realm: 'Photos',
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      tokenId: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
    };
    const url = new URL('http://photos.example.net/photos?file=vacation.jpg&size=original');
    const header = oauth1Header(
      creds,
      { method: 'GET', url },
      {
        signatureMethod: 'HMAC-SHA1',
        timestamp: '1191242096',
        nonce: 'kllo9940pd9333jh',
      },
    );
    expect(header).toContain(`oauth_signature="${percentEncode('tR3+Ty81lMeYAr/Fid0kMTYa/WM=')}"`);
    expect(header.startsWith('OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03"')).toBe(true);
    // HMAC-SHA256: same base string and key, different hash (what NetSuite token-based auth uses).
    const sha256 = oauth1Header(
      creds,
      { method: 'GET', url },
      { timestamp: '1191242096', nonce: 'kllo9940pd9333jh' },
    );
    const base = signatureBaseString('GET', url, [
      ['oauth_consumer_key', creds.consumerKey],
      ['oauth_token', creds.tokenId],
      ['oauth_signature_method', 'HMAC-SHA256'],
      ['oauth_timestamp', '1191242096'],
      ['oauth_nonce', 'kllo9940pd9333jh'],
      ['oauth_version', '1.0'],
    ]);
    expect(sha256).toContain(
      `oauth_signature="${percentEncode(sign(base, creds.consumerSecret, creds.tokenSecret, 'HMAC-SHA256'))}"`,
    );
    expect(sha256).toContain('oauth_signature_method="HMAC-SHA256"');
  });
});

describe('SuiteQL subset parser', () => {
  it('parses the extractor queries and rejects what it does not know', () => {
    const q = parseSuiteql(
      "SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM customer WHERE (lastmodifieddate > TO_TIMESTAMP('2024-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') OR id > 5) AND type IN ('A', 'B') ORDER BY lastmodifieddate, id DESC",
    );
    expect(q.table).toBe('customer');
    expect(q.columns.map((c) => c.alias)).toEqual(['id', 'lastmodified']);
    expect(q.orderBy.map((o) => o.desc)).toEqual([false, true]);
    expect(() => parseSuiteql('SELECT id FROM customer WHERE id ~ 3')).toThrow(/Invalid search query/);
  });
});

describe('NetSuite upsert writer', () => {
  it('upserts by external id (204 + Location) and reports rejected records with their error code', async () => {
    const sb = new NetsuiteSandbox({
      seed: 3,
      counts: { customer: 5, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const target = [...sb.table('customer').values()].find((r) => r.externalid)!;
    const url = await sb.listen();
    const writer = createNetsuiteWriter(
      { logger: createLogger({ level: 'silent' }) },
      'acme',
      'netsuite',
      netsuiteConfig(url),
      {
        limits: FAST_BACKOFF,
      },
    );
    try {
      const before = target.lastmodifieddate as number;
      const out = await writer.upsert('customer', [
        { externalId: target.externalid as string, fields: { name: 'Updated AG', credit_limit: '2500.00' } },
        { externalId: 'hs-new-1', fields: { name: 'Created AG' } },
        { externalId: 'hs-bad', fields: { credit_limit: 'plenty' } },
      ]);
      expect(out.failed).toEqual([
        // REST field ids are camelCase (WIRE.md); a value that is no number is not sent.
        { externalId: 'hs-bad', message: expect.stringMatching(/creditLimit/), code: 'INVALID_VALUE' },
      ]);
      expect(out.written.map((w) => w.externalId).sort()).toEqual([target.externalid, 'hs-new-1'].sort());
      expect(out.written.find((w) => w.externalId === target.externalid)!.internalId).toBe(String(target.id));
      expect(target.companyname).toBe('Updated AG');
      expect(target.lastmodifieddate as number).toBeGreaterThanOrEqual(before);
      expect([...sb.table('customer').values()].some((r) => r.externalid === 'hs-new-1')).toBe(true);
    } finally {
      await writer.close();
      await sb.close();
    }
  });
});
