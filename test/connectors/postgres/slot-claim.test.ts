// One reader per slot: a `trueup sync` process holds the slot's claim (an advisory lock on the
// staging database); `trueup status` shows it streaming; a second `trueup sync --once` fails
// naming the holder; a second reader without --once waits, and takes over when the holder is
// SIGKILLed (Postgres releases the dead session's lock); a reader whose claim session is
// terminated stops, claims again and goes on.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cdcSourceStatus } from '../../../pipeline/connectors/postgres/cdc-status.js';
import { replicationNames } from '../../../pipeline/connectors/postgres/config.js';
import { claimHolder } from '../../../pipeline/connectors/postgres/slot-claim.js';
import { serverUrl, useTestDatabase } from '../../support/database.js';
import {
  compiledCli,
  createSourceDatabase,
  finished,
  runRecorded,
  type SourceDb,
  spawnCli,
  systemConfig,
  until,
} from '../../support/postgres.js';

const staging = useTestDatabase('claim');
let src: SourceDb;
let dir: string;
beforeAll(async () => {
  compiledCli();
  src = await createSourceDatabase(serverUrl());
  dir = await mkdtemp(join(tmpdir(), 'trueup-claim-'));
});
afterAll(async () => {
  await src?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const staged = async () =>
  Number(
    (
      await staging.staging.pool.query(
        `SELECT count(*) AS n FROM staging.customer WHERE tenant_id = 'claim' AND system = 'erp' AND deleted_at IS NULL`,
      )
    ).rows[0].n,
  );

it('one reader per slot: --once names the holder, a waiting reader takes over when the holder dies', async () => {
  await src.pool.query('CREATE TABLE people (id int PRIMARY KEY, name text)');
  await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 10) g`);
  const configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    `tenants:
  claim:
    systems:
      erp:
        kind: postgres
        role: erp
        connection: \${env:SOURCE_URL}
        stream: { maxGroupDelayMs: 20, heartbeatSeconds: 0.2, backoffMinMs: 50, backoffMaxMs: 500, claimRetryMs: 100 }
        tables:
          - { table: people, entity: customer, key: [id], fields: { name: name } }
`,
  );
  const env = { TRUEUP_DATABASE_URL: staging.url, SOURCE_URL: src.url };
  const cfg = systemConfig(src.url, {
    stream: {
      maxGroupDelayMs: 20,
      heartbeatSeconds: 0.2,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      claimRetryMs: 100,
    },
    tables: [{ table: 'people', entity: 'customer', key: ['id'], fields: { name: 'name' } }],
  });
  const key = { tenant: 'claim', system: 'erp', slot: replicationNames('claim', 'erp', cfg).slot };

  const holder = spawnCli(['sync', '--tenant', 'claim', '-c', configFile], env);
  const holderDone = finished(holder);
  try {
    await until('the first sync to claim the slot and stage the snapshot', async () => {
      const h = await claimHolder(staging.staging.pool, key);
      return !!h?.applicationName.includes(`pid ${holder.pid}`) && (await staged()) === 10;
    });

    // `trueup status` shows the source streaming, read by that process.
    const json = await finished(spawnCli(['status', '--tenant', 'claim', '--json', '-c', configFile], env));
    expect(json.code, json.stderr).toBe(0);
    const [source] = JSON.parse(json.stdout).cdcSources;
    expect(source).toMatchObject({
      tenant: 'claim',
      system: 'erp',
      slot: key.slot,
      state: 'streaming',
      walStatus: 'reserved',
      checkpointLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
      bytesBehind: expect.stringMatching(/^\d+$/),
      rowsPerSecond: expect.any(Number),
      reader: { applicationName: expect.stringContaining(`pid ${holder.pid}`) },
    });
    const table = await finished(spawnCli(['status', '--tenant', 'claim', '-c', configFile], env));
    expect(table.stdout).toMatch(
      /tenant\s+system\s+slot\s+state\s+checkpoint lsn\s+behind\s+wal_status\s+rows\/s\s+reader/,
    );
    expect(table.stdout).toMatch(
      new RegExp(`claim\\s+erp\\s+${key.slot}\\s+streaming\\s+[0-9A-F]+/[0-9A-F]+\\s+\\d`),
    );

    // A second sync with --once does not wait: it fails, naming who holds the slot.
    const once = await finished(spawnCli(['sync', '--tenant', 'claim', '--once', '-c', configFile], env));
    expect(once.code).toBe(1);
    expect(once.stdout).toMatch(
      new RegExp(
        `claim/erp .*failed — .*slot "${key.slot}" is being read by another trueup sync: "trueup sync claim/erp on .* pid ${holder.pid}"`,
      ),
    );
    expect(once.stdout).toMatch(/without --once to wait/);

    // A second reader without --once waits, and reads nothing meanwhile.
    const {
      states,
      abort,
      done: second,
    } = runRecorded(staging.staging, cfg, { tenant: 'claim', system: 'erp' });
    await until('the second reader to wait', () => states.includes('waiting'));
    await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(11, 20) g`);
    await until('the holder to stage new rows', async () => (await staged()) === 20);
    await new Promise((r) => setTimeout(r, 300));
    expect(states).not.toContain('connecting');

    // The holder dies without a word; Postgres ends its session and so its claim.
    holder.kill('SIGKILL');
    await holderDone;
    await until('the second reader to take over', () => states.includes('streaming'), 30_000);
    await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(21, 30) g`);
    await until('the second reader to stage new rows', async () => (await staged()) === 30);
    const mine = await claimHolder(staging.staging.pool, key);
    expect(mine?.applicationName).toContain(`pid ${process.pid}`);

    // Losing the claim's session stops reading at once; the reader claims again and goes on.
    const before = states.length;
    await staging.staging.pool.query('SELECT pg_terminate_backend($1)', [mine!.pid]);
    await until('the reader to back off and stream again', () =>
      states.slice(before).join(' ').includes('backing-off claiming connecting streaming'),
    );
    expect((await claimHolder(staging.staging.pool, key))?.pid).not.toBe(mine!.pid);
    await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(31, 40) g`);
    await until('rows staged after the claim came back', async () => (await staged()) === 40);
    abort.abort();
    expect((await second).outcome).toBe('stopped');
    // Stopping gives the claim up: the source is idle.
    expect(await claimHolder(staging.staging.pool, key)).toBeUndefined();
    expect(await cdcSourceStatus(staging.staging, 'claim', 'erp', cfg)).toMatchObject({
      state: 'idle',
      reader: null,
    });
  } finally {
    holder.kill('SIGKILL');
    await holderDone;
  }
});

it('a claim lost during the snapshot stops it before the next batch; the reader claims again and re-snapshots', async () => {
  await src.pool.query('CREATE TABLE big (id int PRIMARY KEY, name text)');
  await src.pool.query(`INSERT INTO big SELECT g, 'b' || g FROM generate_series(1, 30000) g`);
  const cfg = systemConfig(src.url, {
    slot: 'claim_snap_slot',
    publication: 'claim_snap_pub',
    snapshot: { readers: 1, batchRows: 100 },
    tables: [{ table: 'big', entity: 'product', key: ['id'], fields: { name: 'name' } }],
  });
  const key = { tenant: 'claimsnap', system: 'erp', slot: 'claim_snap_slot' };
  const stagedBig = async () =>
    Number(
      (
        await staging.staging.pool.query(
          `SELECT count(*) AS n FROM staging.product WHERE tenant_id = 'claimsnap' AND deleted_at IS NULL`,
        )
      ).rows[0].n,
    );
  const { states, abort, done: run } = runRecorded(staging.staging, cfg, key);
  try {
    await until(
      'the snapshot to be under way',
      async () => states.includes('snapshotting') && (await stagedBig()) > 0,
    );
    const holder = await claimHolder(staging.staging.pool, key);
    await staging.staging.pool.query('SELECT pg_terminate_backend($1)', [holder!.pid]);
    const stagedThen = await stagedBig();
    await until('the reader to stop the snapshot and back off', () =>
      states.join(' ').includes('snapshotting backing-off'),
    );
    // Stopped before the next batch: at most the batches then in flight were staged meanwhile.
    expect(stagedThen).toBeLessThan(30_000);
    await until(
      'a fresh snapshot and streaming',
      () => states.join(' ').includes('backing-off claiming connecting snapshotting streaming'),
      60_000,
    );
    expect(await stagedBig()).toBe(30_000);
    await src.pool.query(`UPDATE big SET name = 'changed' WHERE id <= 10`);
    await until(
      'a change streamed after the re-snapshot',
      async () =>
        Number(
          (
            await staging.staging.pool.query(
              `SELECT count(*) AS n FROM staging.product WHERE tenant_id = 'claimsnap' AND name = 'changed'`,
            )
          ).rows[0].n,
        ) === 10,
    );
  } finally {
    abort.abort();
    await run;
  }
});
