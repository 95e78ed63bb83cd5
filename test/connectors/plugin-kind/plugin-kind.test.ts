// Adding a connector kind is one folder and one registration: a kind defined here, outside the
// source tree, is registered through the registry's API and `trueup sync` runs it end to end —
// config validation, staged rows, the checkpoint, status — with no other file changed.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerConnector, unregisterConnector } from '../../../pipeline/connectors/registry.js';
import { runCliCaptured } from '../../support/cli.js';
import { useTestDatabase } from '../../support/database.js';
import { jsonlConnector } from './jsonl-connector.js';

const t = useTestDatabase('pluginkind');
let dir: string;
let config: string;
const line = (id: string, version: number, name: string) =>
  `${JSON.stringify({ id, version, fields: { name, currency: 'EUR' } })}\n`;

beforeAll(async () => {
  registerConnector(jsonlConnector);
  dir = await mkdtemp(join(tmpdir(), 'trueup-plugin-'));
  await writeFile(join(dir, 'customers.jsonl'), line('J1', 1, 'Jade GmbH') + line('J2', 1, 'Juno AG'));
  config = join(dir, 'trueup.yaml');
  await writeFile(
    config,
    `tenants:\n  plug:\n    systems:\n      files:\n        kind: jsonl\n        role: erp\n        file: ${join(dir, 'customers.jsonl')}\n`,
  );
});
afterAll(async () => {
  unregisterConnector('jsonl');
  await rm(dir, { recursive: true, force: true });
});

const trueup = (args: string[], cfg = config) => runCliCaptured(args, { databaseUrl: t.url, config: cfg });

describe('a connector kind registered through the registry API', () => {
  it('is known to config validation: its schema checks its keys, strictly', async () => {
    expect((await trueup(['config', 'check', config])).out).toMatch(/ok \(1 tenant: plug\)/);
    const typo = join(dir, 'typo.yaml');
    await writeFile(
      typo,
      `tenants:\n  plug:\n    systems:\n      files:\n        kind: jsonl\n        role: erp\n        fiel: x\n`,
    );
    const bad = await trueup(['config', 'check', typo], typo);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/tenants\.plug\.systems\.files\.file: /);
    expect(bad.out).toMatch(/unknown key "fiel" \(line 7\)/);
    const unknown = await trueup(['config', 'check', config.replace('trueup', 'x')], config);
    expect(unknown.code).toBe(2);
  });

  it('is listed by `trueup sync --help` and unknown kinds name it among the choices', async () => {
    // Commander prints help straight to stdout.
    let help = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      help += String(chunk);
      return true;
    });
    try {
      expect((await trueup(['sync', '--help'])).code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(help).toMatch(/Connector kinds[^\n]*\n(.*\n)*\s+jsonl\s+JSON-lines files/);
    const other = join(dir, 'other.yaml');
    await writeFile(
      other,
      `tenants:\n  plug:\n    systems:\n      files:\n        kind: xml\n        role: erp\n`,
    );
    expect((await trueup(['config', 'check', other], other)).out).toMatch(
      /unknown kind; expected one of: postgres, salesforce, hubspot, netsuite, csv, jsonl/,
    );
  });

  it('syncs: rows staged, the checkpoint saved with them, the next pass incremental, status shows it', async () => {
    const first = await trueup(['sync', '--tenant', 'plug', '--once']);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(
      /plug\/files \(jsonl\): completed, 1 stream, 2 received, 2 staged, 0 dead-lettered/,
    );
    const rows = await t.staging.pool.query(
      `SELECT source_id, name FROM staging.customer WHERE tenant_id = 'plug' AND system = 'files' ORDER BY 1`,
    );
    expect(rows.rows).toEqual([
      { source_id: 'J1', name: 'Jade GmbH' },
      { source_id: 'J2', name: 'Juno AG' },
    ]);

    await appendFile(join(dir, 'customers.jsonl'), line('J1', 2, 'Jade Holding GmbH'));
    const second = await trueup(['sync', '--tenant', 'plug', '--once']);
    expect(second.out).toMatch(/plug\/files \(jsonl\): completed, 1 stream, 1 received, 1 staged/);
    const renamed = await t.staging.pool.query(
      `SELECT name FROM staging.customer WHERE tenant_id = 'plug' AND source_id = 'J1'`,
    );
    expect(renamed.rows[0].name).toBe('Jade Holding GmbH');

    const status = await trueup(['status', '--tenant', 'plug', '--json']);
    expect(status.code, status.err).toBe(0);
    const { checkpoints } = JSON.parse(status.out) as {
      checkpoints: { system: string; stream: string; position: unknown; state: string }[];
    };
    expect(checkpoints).toEqual([
      expect.objectContaining({ system: 'files', stream: 'lines', position: { line: 3 }, state: 'ok' }),
    ]);
  });
});
