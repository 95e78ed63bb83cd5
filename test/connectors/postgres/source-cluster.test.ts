// The source Postgres itself misbehaving, on a cluster of its own (not the shared test cluster):
// restarted mid-stream while a writer keeps writing (sync reconnects by itself, nothing lost), and
// a slot invalidated by max_slot_wal_keep_size (wal_status = lost: a loud error naming the
// recovery command, also in the status). Staging stays on the shared test cluster.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcSourceStatus } from '../../../pipeline/connectors/postgres/cdc-status.js';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import type { PostgresServer } from '../../../pipeline/embedded/postgres-server.js';
import { useTestDatabase } from '../../support/database.js';
import { runRecorded, syncOnce, systemConfig, until } from '../../support/postgres.js';
import { startSourceServer } from '../../support/postgres-source-cluster.js';

const staging = useTestDatabase('srccluster');
let dir: string;
let port: number;
let cluster: PostgresServer;

/** Starts (or restarts) the source cluster on its fixed port; settings last until the next restart. */
const startCluster = async (settings?: Record<string, string>) => {
  cluster = await startSourceServer({ dataDir: join(dir, 'pg'), port, ...(settings ? { settings } : {}) });
  return cluster;
};
const restartCluster = async (settings?: Record<string, string>) => {
  await cluster.release();
  return startCluster(settings);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-cdc-source-'));
  port = await freePort();
  await startCluster();
});
afterAll(async () => {
  await cluster?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sourceDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = cluster.urlFor(name);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  await c.end();
  return url;
}

function itemsConfig(url: string, slot: string): PostgresSystemConfig {
  return systemConfig(url, {
    slot,
    publication: slot,
    stream: {
      maxGroupDelayMs: 20,
      backoffMinMs: 50,
      backoffMaxMs: 400,
      heartbeatSeconds: 0.2,
      claimRetryMs: 100,
    },
    tables: [{ table: 'items', entity: 'customer', key: ['id'], fields: { name: 'name' } }],
  });
}

async function stagedIds(system: string): Promise<string[]> {
  const res = await staging.staging.pool.query(
    `SELECT source_id || ':' || name AS r FROM staging.customer
      WHERE tenant_id = 'acme' AND system = $1 AND deleted_at IS NULL ORDER BY source_id::int`,
    [system],
  );
  return res.rows.map((r) => r.r);
}

async function sourceIds(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const res = await c.query(`SELECT id || ':' || name AS r FROM items ORDER BY id`);
    return res.rows.map((r) => r.r);
  } finally {
    await c.end();
  }
}

describe('source cluster', () => {
  it('source restarted mid-stream: sync reconnects by itself and nothing is lost', async () => {
    const url = await sourceDatabase('restart_src');
    const cfg = itemsConfig(url, 'restart_slot');
    const {
      states,
      abort,
      done: running,
    } = runRecorded(staging.staging, cfg, {
      tenant: 'acme',
      system: 'restart',
    });
    // A writer that keeps going through the restart: each transaction inserts 20 rows and
    // renames one; a failed one (source down) is simply retried later with new ids.
    let writing = true;
    let committed = 0;
    let next = 1;
    const writer = (async () => {
      while (writing) {
        const c = new pg.Client({ connectionString: url });
        c.on('error', () => {});
        try {
          await c.connect();
          while (writing) {
            const from = next;
            next += 20;
            await c.query(
              `BEGIN; INSERT INTO items SELECT g, 'n' || g FROM generate_series(${from}, ${from + 19}) g;
               UPDATE items SET name = name || '+' WHERE id = ${1 + Math.floor(Math.random() * from)}; COMMIT`,
            );
            committed++;
            await new Promise((r) => setTimeout(r, 5));
          }
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        } finally {
          await c.end().catch(() => {});
        }
      }
    })();
    await until('rows staged before the restart', async () => (await stagedIds('restart')).length >= 200);
    const before = committed;
    await cluster.release();
    await new Promise((r) => setTimeout(r, 300));
    await startCluster();
    await until('writes after the restart', async () => committed >= before + 20);
    writing = false;
    await writer;
    await until('staging to catch up with the source', async () => {
      const [a, b] = [await stagedIds('restart'), await sourceIds(url)];
      return a.length === b.length && a.every((x, i) => x === b[i]);
    });
    abort.abort();
    const out = await running;
    expect(out.outcome).toBe('stopped');
    expect(await stagedIds('restart')).toEqual(await sourceIds(url));
    // It lost the source, backed off and came back to streaming without help.
    const lostAt = states.indexOf('backing-off');
    expect(lostAt).toBeGreaterThan(states.indexOf('streaming'));
    expect(states.slice(lostAt)).toContain('streaming');
  });

  it('an invalidated slot (wal_status lost) is a loud error naming the re-snapshot command', async () => {
    const url = await sourceDatabase('lost_src');
    const cfg = itemsConfig(url, 'wal_lost_slot');
    const seed = new pg.Client({ connectionString: url });
    await seed.connect();
    await seed.query(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 10) g`);
    await seed.end();
    expect((await syncOnce(staging.staging, cfg, { system: 'walost' })).outcome).toBe('caught_up');
    // A slot may now keep at most 1MB of WAL (command-line settings: ALTER SYSTEM cannot lower
    // them); write more than that, switch segments and checkpoint until the slot is lost.
    await restartCluster({
      max_slot_wal_keep_size: '1MB',
      wal_keep_size: '0',
      max_wal_size: '32MB',
      min_wal_size: '32MB',
    });
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await until('the slot to be invalidated', async () => {
        await c.query(
          `INSERT INTO items SELECT g, 'w' FROM generate_series(1000, 1100) g ON CONFLICT (id) DO UPDATE SET name = items.name || 'w'`,
        );
        await c.query('SELECT pg_switch_wal()');
        await c.query('CHECKPOINT');
        const r = await c.query(
          `SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'wal_lost_slot'`,
        );
        return r.rows[0]?.wal_status === 'lost';
      });
      const out = await syncOnce(staging.staging, cfg, { system: 'walost' });
      expect(out.outcome).toBe('failed');
      expect(out.error?.name).toBe('SlotLostError');
      expect(out.error?.message).toMatch(
        /"wal_lost_slot" was invalidated \(wal_status lost.*trueup sync --tenant acme --system walost --resnapshot/,
      );
      const status = await cdcSourceStatus(staging.staging, 'acme', 'walost', cfg);
      expect(status).toMatchObject({ state: 'slot_lost', walStatus: 'lost' });
      // The named recovery works: a fresh slot and snapshot, and staging equals the source again.
      await c.end();
      await restartCluster();
      const re = await syncOnce(staging.staging, cfg, { system: 'walost', resnapshot: true });
      expect(re.outcome).toBe('caught_up');
      expect(await stagedIds('walost')).toEqual(await sourceIds(url));
    } finally {
      await c.end().catch(() => {});
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const p = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(p));
    });
  });
}
