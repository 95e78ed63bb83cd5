// Config rules of the salesforce and csv systems, each with the message a user sees.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../pipeline/config/load-config.js';
import { MappingConfigError, resolveMappings } from '../../../pipeline/connectors/salesforce/mapping.js';

const env = { SF_TOKEN: 'tok-123456' };

function problems(system: string): string[] {
  const text = `tenants:\n  acme:\n    systems:\n      crm:\n${system
    .split('\n')
    .map((l) => `        ${l}`)
    .join('\n')}\n`;
  try {
    parseConfigText(text, 'trueup.yaml', env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

describe('salesforce system config', () => {
  it('accepts the documented example and fills defaults', () => {
    const cfg = parseConfigText(
      `tenants:\n  acme:\n    systems:\n      crm:\n        kind: salesforce\n        role: crm\n        baseUrl: https://acme.my.salesforce.com\n        accessToken: \${env:SF_TOKEN}\n        objects:\n          Account: customer\n          Opportunity: { entity: order, fields: { number: Name } }\n`,
      'trueup.yaml',
      env,
    );
    const crm = cfg.tenants.acme!.systems.crm as Record<string, unknown>;
    expect(crm.accessToken).toBe('tok-123456');
    expect(crm.bulk).toMatchObject({ maxRecords: 50_000, batchSize: 10_000, lagSeconds: 30 });
  });

  it('rejects a literal token, a bad SObject name, an unknown entity and a bad field name', () => {
    const base = 'kind: salesforce\nrole: crm\nbaseUrl: https://x.my.salesforce.com';
    expect(problems(`${base}\naccessToken: abc`).join('\n')).toMatch(/secrets must be references/);
    expect(
      problems(`${base}\naccessToken: \${env:SF_TOKEN}\nobjects:\n  "Account; DROP": customer`).join('\n'),
    ).toMatch(/expected an SObject API name/);
    expect(
      problems(`${base}\naccessToken: \${env:SF_TOKEN}\nobjects:\n  Account: client`).join('\n'),
    ).toMatch(/objects.Account/);
    expect(
      problems(
        `${base}\naccessToken: \${env:SF_TOKEN}\nobjects:\n  Account: { entity: customer, fields: { name: "Name, Id" } }`,
      ).join('\n'),
    ).toMatch(/expected a Salesforce field API name/);
  });

  it('rejects overrides naming unknown canonical fields or non-field sources', () => {
    expect(() =>
      resolveMappings({
        role: 'crm',
        objects: { Account: { entity: 'customer', fields: { shoe_size: 'Size__c' } } },
      }),
    ).toThrow(new MappingConfigError('Account → customer: customer has no canonical field "shoe_size"'));
    expect(() =>
      resolveMappings({
        role: 'crm',
        objects: { Account: 'customer' },
        entityOverrides: () => ({ overrides: { fields: { name: 'Name) FROM User --' } } }),
      }),
    ).toThrow(/"Name\) FROM User --" is not a field API name/);
  });
});

describe('client limits (every API connector)', () => {
  const base = 'role: crm\nbaseUrl: https://x.example.com\naccessToken: ${env:SF_TOKEN}';
  it('accepts backoff bounds and timeouts, and says what is wrong with bad ones', () => {
    for (const kind of ['salesforce', 'hubspot', 'netsuite']) {
      const cfg = parseConfigText(
        `tenants:\n  acme:\n    systems:\n      crm:\n        kind: ${kind}\n        ${base.replaceAll('\n', '\n        ')}\n        limits: { minBackoffMs: 100, maxBackoffMs: 5000, idleTimeoutMs: 90000 }\n`,
        'trueup.yaml',
        env,
      );
      expect(cfg.tenants.acme!.systems.crm!.limits).toMatchObject({
        minBackoffMs: 100,
        maxBackoffMs: 5000,
        idleTimeoutMs: 90_000,
        timeoutMs: 60_000,
        maxRetries: 6,
      });
    }
    const sf = `kind: salesforce\n${base}`;
    expect(problems(`${sf}\nlimits: { minBackoffMs: 5000, maxBackoffMs: 100 }`).join('\n')).toMatch(
      /limits.minBackoffMs: minBackoffMs must not be greater than maxBackoffMs/,
    );
    expect(problems(`${sf}\nlimits: { maxBackoffMs: 1.5 }`).join('\n')).toMatch(/limits.maxBackoffMs/);
    expect(problems(`${sf}\nlimits: { minBackoffMs: 0 }`).join('\n')).toMatch(/limits.minBackoffMs/);
    expect(problems(`${sf}\nlimits: { backoff: 5 }`).join('\n')).toMatch(/backoff/);
  });
});

describe('csv system config', () => {
  it('rejects a folder with a path and a long delimiter', () => {
    const base = 'kind: csv\nrole: erp\ndropDir: /srv/drops/{tenant}';
    expect(problems(`${base}\nentities:\n  customer: { folder: ../etc }`).join('\n')).toMatch(
      /a folder name without slashes/,
    );
    expect(problems(`${base}\ndelimiter: ";;"`).join('\n')).toMatch(/delimiter/);
    expect(problems(`${base}\nentities:\n  client: {}`).join('\n')).toMatch(/entities/);
  });
});

describe('an invalid system config fails that system with a report, never a throw', () => {
  it('salesforce and csv', async () => {
    const { syncSystem } = await import('../../../pipeline/connectors/stream-runner.js');
    const { createLogger } = await import('../../../pipeline/log/logger.js');
    const deps = { staging: undefined as never, logger: createLogger({ level: 'silent' }) };
    const sf = await syncSystem(deps, 'acme', 'crm', {
      kind: 'salesforce',
      role: 'crm',
      baseUrl: 'https://x.my.salesforce.com',
      accessToken: 't',
      objects: { Account: { entity: 'customer', fields: { shoe_size: 'Size__c' } } },
    });
    expect(sf).toMatchObject({ status: 'failed', streams: [] });
    expect(sf.error).toBe(
      'invalid salesforce config for acme/crm: Account → customer: customer has no canonical field "shoe_size"',
    );
    const csv = await syncSystem(deps, 'acme', 'files', { kind: 'csv', role: 'erp' });
    expect(csv.status).toBe('failed');
    expect(csv.error).toMatch(/invalid csv config for acme\/files: dropDir: /);
  });
});
