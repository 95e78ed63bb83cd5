// Config problems name the file, the field's path and its YAML line — also for a missing key,
// an unresolvable secret and a problem inside a list — and no unknown key is silently ignored.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../pipeline/config/load-config.js';

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfigText(text, 'trueup.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const CSV = (extra = '') => `tenants:
  acme:
    systems:
      crm:
        kind: csv
        role: crm
        dropDir: /tmp/x${extra}
`;

describe('config problems name their line', () => {
  it('a missing required key is reported at the line of the object that lacks it', () => {
    expect(
      problems('tenants:\n  acme:\n    systems:\n      crm:\n        kind: csv\n        dropDir: /x\n'),
    ).toEqual([expect.stringMatching(/^tenants\.acme\.systems\.crm\.role: .*\(line 4\)$/)]);
    expect(problems('tenants:\n  acme:\n    displayName: A\n')).toEqual([
      expect.stringMatching(/^tenants\.acme\.systems: .*\(line 2\)$/),
    ]);
  });

  it('an unresolvable secret is reported with its line', () => {
    const text = `tenants:
  acme:
    systems:
      crm:
        kind: salesforce
        role: crm
        baseUrl: https://x.example.com
        accessToken: \${env:NOPE_TOKEN}
`;
    expect(problems(text)).toEqual([
      'tenants.acme.systems.crm.accessToken: environment variable NOPE_TOKEN is not set (line 8)',
    ]);
  });

  it('an unknown key is reported at its own line, not at the first key of its mapping', () => {
    const text = `tenants:
  acme:
    displayName: A
    timezone: UTC
    systems:
      crm: { kind: csv, role: crm, dropDir: /x }
    colour: blue
`;
    expect(problems(text)).toEqual(['tenants.acme: unknown key "colour" (line 7)']);
  });

  it('an unknown key in a system is an error, not silently ignored', () => {
    expect(problems(CSV('\n        dropdir: /tmp/y'))).toEqual([
      'tenants.acme.systems.crm: unknown key "dropdir" (line 8)',
    ]);
    expect(problems(CSV())).toEqual([]);
  });

  it('an unknown canonical field is reported at the list item or key that names it', () => {
    const text = `tenants:
  acme:
    systems:
      crm: { kind: csv, role: crm, dropDir: /x }
    entities:
      customer:
        match:
          keys:
            - { field: email }
            - { field: nosuch }
        compare:
          name: { type: text }
          shoe_size: { type: exact }
        ignoreFields: [name, hat]
`;
    expect(problems(text).sort()).toEqual(
      [
        'tenants.acme.entities.customer.match.keys.1.field: customer has no canonical field "nosuch" (line 10)',
        'tenants.acme.entities.customer.compare.shoe_size: customer has no canonical field "shoe_size" (line 13)',
        'tenants.acme.entities.customer.ignoreFields.1: customer has no canonical field "hat" (line 14)',
      ].sort(),
    );
  });
});
