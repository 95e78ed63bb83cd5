import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  configJsonSchema,
  loadConfigFile,
  parseConfigText,
} from '../../pipeline/config/load-config.js';
import { redact } from '../../pipeline/config/secrets.js';

const env = { SF_TOKEN: 'sf-secret-token-123', PG_PASSWORD: 'pg-pass-456' };

const GOOD = `
staging:
  url: postgres://trueup:\${env:PG_PASSWORD}@db.internal:5432/trueup
tenants:
  acme:
    displayName: Acme Corp
    timezone: Europe/Berlin
    schedule: "0 2 * * *"
    materiality: { threshold: "100.00", byCurrency: { JPY: "10000" } }
    systems:
      crm: { kind: salesforce, role: crm, baseUrl: "https://acme.my.salesforce.com", accessToken: "\${env:SF_TOKEN}" }
      erp: { kind: postgres, role: erp, connection: "postgres://odoo:\${env:PG_PASSWORD}@erp:5432/odoo" }
    entities:
      customer:
        match: { keys: [{ field: email, normalise: email }] }
        compare:
          credit_limit: { type: money }
          name: { type: text }
        survivorship:
          credit_limit: { rule: owner, owner: erp }
          name: { rule: most_recent }
`;

function problems(text: string, e: Record<string, string> = env): string[] {
  try {
    parseConfigText(text, 'trueup.yaml', e);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('config', () => {
  it('parses, resolves secret references, applies defaults and freezes', () => {
    const cfg = parseConfigText(GOOD, 'trueup.yaml', env);
    const acme = cfg.tenants.acme!;
    expect(acme.systems.crm).toMatchObject({
      kind: 'salesforce',
      accessToken: 'sf-secret-token-123',
      apiVersion: '60.0',
    });
    expect(cfg.staging.url).toBe('postgres://trueup:pg-pass-456@db.internal:5432/trueup');
    expect(acme.entities.customer?.nullEquivalents).toEqual(['']);
    expect(acme.actions).toEqual({
      policy: 'propose',
      createMissing: false,
      limits: {},
      applyAfterRun: false,
      requireDistinctApprover: false,
    });
    expect(Object.isFrozen(acme.systems)).toBe(true);
    expect(() => {
      (cfg.tenants as Record<string, unknown>).evil = {};
    }).toThrow();
  });

  it('names the path of every problem', () => {
    const bad = `
tenants:
  acme:
    timezone: Mars/Olympus
    schedule: "every night"
    systems:
      crm: { kind: salesforce, role: crm, baseUrl: "not a url", accessToken: "literal-token" }
      erp: { kind: sap, role: erp }
    entities:
      customer:
        compare: { shoe_size: { type: exact } }
        survivorship: { name: { rule: loudest } }
  "Bad Tenant": { systems: {} }
`;
    const p = problems(bad);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^tenants\.acme\.timezone: expected an IANA time zone/),
        expect.stringMatching(/^tenants\.acme\.schedule: expected a cron expression/),
        expect.stringMatching(/^tenants\.acme\.systems\.crm\.baseUrl: expected URL/),
        expect.stringMatching(/^tenants\.acme\.systems\.crm\.accessToken: secrets must be references/),
        'tenants.acme.systems.erp.kind: unknown kind; expected one of: postgres, salesforce, hubspot, netsuite, csv (line 8)',
        expect.stringMatching(
          /^tenants\.acme\.entities\.customer\.survivorship\.name\.rule: unknown rule; expected one of: owner, most_recent/,
        ),
        expect.stringMatching(/^tenants\.Bad Tenant: tenant ids are 1-63 characters/),
      ]),
    );
    for (const line of p) expect(line).toMatch(/\(line \d+\)$/);
  });

  it('reports unknown canonical fields, unknown keys and unresolvable secrets', () => {
    const p = problems(
      GOOD.replace('name: { type: text }', 'nmae: { type: text }').replace(
        'timezone:',
        'timezone_typo: UTC\n    timezone:',
      ),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        'tenants.acme: unknown key "timezone_typo" (line 7)',
        expect.stringMatching(
          /^tenants\.acme\.entities\.customer\.compare\.nmae: customer has no canonical field "nmae" \(line \d+\)$/,
        ),
      ]),
    );
    expect(problems(GOOD, {})).toEqual([
      'staging.url: environment variable PG_PASSWORD is not set (line 3)',
      'tenants.acme.systems.crm.accessToken: environment variable SF_TOKEN is not set (line 11)',
      'tenants.acme.systems.erp.connection: environment variable PG_PASSWORD is not set (line 12)',
    ]);
  });

  it('refuses a literal password in a connection URL', () => {
    expect(problems(GOOD.replace('trueup:${env:PG_PASSWORD}@db', 'trueup:hunter2@db'))).toEqual([
      expect.stringMatching(/^staging\.url: the password in a connection URL must be a reference/),
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problems('tenants:\n  acme: [unclosed\n')[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('reads secrets from files and redacts resolved secrets anywhere', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trueup-secret-'));
    await writeFile(join(dir, 'token'), 'file-secret-789\n');
    const cfg = parseConfigText(
      // A secret file outside the config's folder is read only from a folder the config allows.
      `${GOOD.replace('${env:SF_TOKEN}', `\${file:${join(dir, 'token')}}`)}\nsecrets:\n  allowedDirs: [${JSON.stringify(dir)}]\n`,
      'trueup.yaml',
      env,
    );
    expect(cfg.tenants.acme?.systems.crm).toMatchObject({ accessToken: 'file-secret-789' });
    expect(redact('token file-secret-789 and pg-pass-456 in postgres://u:other@h/db')).toBe(
      'token *** and *** in postgres://u:***@h/db',
    );
  });

  it('exports a JSON Schema for editors', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['staging', 'tenants']));
  });

  it('resolves relative folders and secret files against the config file, not the working directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trueup-cfg-'));
    const file = join(dir, 'trueup.yaml');
    await writeFile(
      file,
      `dataDir: ./data
staging:
  embedded: { dataDir: pg }
tenants:
  acme:
    systems:
      crm: { kind: csv, role: crm, dropDir: "drops/{tenant}/crm" }
      erp: { kind: postgres, role: erp, connection: "postgres://odoo:\${file:secrets/pg}@erp:5432/odoo" }
`,
    );
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets', 'pg'), 'pw-from-file\n');
    const { config } = await loadConfigFile(file, {});
    expect(config.dataDir).toBe(join(dir, 'data'));
    expect(config.staging.embedded.dataDir).toBe(join(dir, 'pg'));
    const systems = config.tenants.acme!.systems as Record<string, { dropDir?: string }>;
    expect(systems.crm!.dropDir).toBe(join(dir, 'drops/{tenant}/crm'));
    // A relative secret file is read from the config's folder too.
    expect((systems.erp as { connection?: string }).connection).toBe(
      'postgres://odoo:pw-from-file@erp:5432/odoo',
    );
    expect(Object.isFrozen(config.staging.embedded)).toBe(true);
  });
});
