// `trueup dlq replay` on a CSV dead letter: a failed replay keeps the original reason (file, line,
// field) and location, counts the attempt, records its own failure apart, and exits 1.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { runCli } from '../../pipeline/cli/main.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase('dlqreplay');
  dir = await mkdtemp(join(tmpdir(), 'trueup-dlq-'));
});
afterAll(async () => {
  await t?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('trueup dlq replay', () => {
  it('a failed replay of a CSV dead letter keeps the original reason and location', async () => {
    const folder = join(dir, 'dq', 'customer');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'c.csv'), 'id,name,currency\nC1,ok,EUR\nC2,bad,euro\n');
    const deps = { staging: t.staging, logger: createLogger({ level: 'silent' }) };
    const rep = await syncSystem(deps, 'dq', 'legacy', {
      kind: 'csv',
      role: 'erp',
      dropDir: join(dir, '{tenant}'),
    });
    expect(rep.status).toBe('completed');
    const [before] = await listDeadLetters(t.staging.db, { tenant: 'dq' });
    expect(before!.errorMessage).toMatch(/^c\.csv line 3: customer C2: currency: /);
    let out = '';
    // Every command refuses a tenant the config does not name (exit 2).
    const config = join(dir, 'trueup.yaml');
    await writeFile(
      config,
      `tenants:\n  dq:\n    systems:\n      legacy: { kind: csv, role: erp, dropDir: "${join(dir, '{tenant}')}" }\n`,
    );
    const ctx = createCliContext(
      { ...process.env, TRUEUP_DATABASE_URL: t.url, TRUEUP_CONFIG: config },
      (s) => {
        out += s;
      },
    );
    expect(await runCli(['dlq', 'replay', '--tenant', 'dq'], ctx)).toBe(1);
    expect(out).toMatch(/replayed 0, still failing 1/);
    const [after] = await listDeadLetters(t.staging.db, { tenant: 'dq' });
    expect(after).toMatchObject({
      attempts: 2,
      errorMessage: before!.errorMessage,
      location: before!.location,
    });
    // The row is mapped again with the current config: still invalid, with today's reason.
    expect(after!.lastReplayError).toMatch(/^still failing: customer C2: currency: /);
  });
});
