// The shipped binary (dist/, built by `npm test` before vitest runs): help on every command with
// an example, exit codes, migrate twice, secrets kept out of output.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { buildProgram } from '../../pipeline/cli/main.js';
import { withDatabase } from '../../pipeline/embedded/postgres-server.js';
import { sqlPath } from '../../staging/package-root.js';
import { serverUrl } from '../support/database.js';

/** The first migrate of a database applies every migration file. */
const MIGRATIONS = readdirSync(sqlPath('migrations')).filter((f) => f.endsWith('.sql')).length;
const APPLIED_ALL = new RegExp(`^applied ${MIGRATIONS} migration`);

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../dist/pipeline/cli/bin.js');

async function trueup(args: string[], env: Record<string, string> = {}, cwd?: string) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      ...(cwd ? { cwd } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const db = `cli_${Math.random().toString(36).slice(2, 8)}`;
let url: string;
beforeAll(async () => {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  url = withDatabase(serverUrl(), db);
});
afterAll(async () => {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});

/** Every command below the program that has no subcommands, with its path. */
function leafCommands(cmd: Command, path: string[] = []): [string[], Command][] {
  const kids = cmd.commands.filter((c) => c.name() !== 'help');
  if (!kids.length) return [[path, cmd]];
  return kids.flatMap((c) => leafCommands(c, [...path, c.name()]));
}

describe('trueup CLI', () => {
  it('prints help with an example for every command', async () => {
    // The binary once (it starts and prints help); every command's help in process, as the
    // binary builds it (one process per command would spend a minute loading modules).
    const top = await trueup(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Example/);
    const sub = await trueup(['actions', 'apply', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/Example/);
    const leaves = leafCommands(buildProgram(createCliContext({}, () => {})));
    expect(leaves.length).toBeGreaterThan(5);
    for (const [path, cmd] of leaves) {
      let text = '';
      cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
      cmd.outputHelp();
      expect(text, path.join(' ')).toMatch(/Example/);
    }
  });

  it('exits 2 on usage errors and on a bad config', async () => {
    expect((await trueup(['no-such-command'])).code).toBe(2);
    expect((await trueup(['dlq', 'discard'])).code).toBe(2);
    const dir = await mkdtemp(join(tmpdir(), 'trueup-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'tenants:\n  acme:\n    timezone: Nowhere/Land\n    systems: {}\n');
    const res = await trueup(['config', 'check', file]);
    expect(res.code).toBe(2);
    expect(res.stdout).toContain('tenants.acme.timezone: expected an IANA time zone');
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates an external database once, then applies nothing, and exits 1 when the database is unreachable', async () => {
    const first = await trueup(['migrate'], { TRUEUP_DATABASE_URL: url });
    expect(first.stdout).toMatch(APPLIED_ALL);
    const second = await trueup(['migrate'], { TRUEUP_DATABASE_URL: url });
    expect(second.stdout).toMatch(/^nothing to apply/);
    const down = await trueup(['status'], {
      TRUEUP_DATABASE_URL: 'postgres://trueup:pw-down-123@127.0.0.1:1/x',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).not.toContain('pw-down-123');
  });

  it('runs on the embedded default: migrate twice, the second applies nothing', async () => {
    const home = await mkdtemp(join(tmpdir(), 'trueup-home-'));
    const env = { TRUEUP_HOME: home, TRUEUP_DATABASE_URL: '' };
    const first = await trueup(['migrate'], env);
    expect(first.stdout, first.stderr).toMatch(APPLIED_ALL);
    const second = await trueup(['migrate'], env);
    expect(second.stdout).toMatch(/^nothing to apply/);
    const status = await trueup(['status'], env);
    expect(status.stdout).toContain('staging: embedded Postgres');
    await rm(home, { recursive: true, force: true });
  });

  it('keeps the database password out of logs and errors', async () => {
    const password = new URL(url).password;
    const res = await trueup(['status', '--log-level', 'trace'], { TRUEUP_DATABASE_URL: url });
    expect(res.code).toBe(0);
    expect(res.stdout + res.stderr).not.toContain(password);
  });

  it('reads the database password from a secret file named in TRUEUP_DATABASE_URL', async () => {
    // Without a config file, secrets may be read under the working directory (and /run/secrets).
    const dir = await mkdtemp(join(tmpdir(), 'trueup-cli-'));
    const secret = join(dir, 'staging_db_password');
    const parsed = new URL(url);
    const password = parsed.password;
    await writeFile(secret, `${password}\n`);
    parsed.password = 'PASSWORD';
    const withRef = parsed.toString().replace('PASSWORD', `\${file:${secret}}`);
    const ok = await trueup(['status', '--log-level', 'debug'], { TRUEUP_DATABASE_URL: withRef }, dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(password);
    const missing = await trueup(
      ['status'],
      { TRUEUP_DATABASE_URL: withRef.replace(secret, join(dir, 'absent')) },
      dir,
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('TRUEUP_DATABASE_URL: cannot read secret file');
    await rm(dir, { recursive: true, force: true });
  });
});
