// What a reconcile thread keeps between jobs: the DuckDB instances of the mirrors it ran last (at
// most `keepOpen`, least recently used closed first) and one Postgres pool per staging URL, paid
// once by a long-lived process. DuckDB locks a file per process, not per instance: two instances of
// one file would overwrite each other, so the scheduler sends every job of a mirror to the thread
// holding it and asks that thread to let go before another opens it. Within a thread, a mirror in
// use is never closed under a job, and an instance whose file was replaced on disk is reopened.
import { statSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { guardPool } from '../../staging/database.js';
import { narrowFiles, privateDir } from '../duckdb/private-files.js';

interface OpenMirror {
  instance: DuckDBInstance;
  threads: number | undefined;
  memoryLimit: string | undefined;
  ino: number;
  dev: number;
  inUse: number;
}

export interface MirrorLease {
  instance: DuckDBInstance;
  /** Hands the instance back; `healthy: false` closes it (a failed job leaves no state behind). */
  release(healthy: boolean): void;
}

function fileId(path: string): { ino: number; dev: number } | undefined {
  try {
    const s = statSync(path);
    return { ino: s.ino, dev: s.dev };
  } catch {
    return undefined;
  }
}

export class JobResources {
  /** Insertion order = least recently used first. */
  private readonly mirrors = new Map<string, OpenMirror>();
  private readonly pools = new Map<string, pg.Pool>();

  constructor(readonly keepOpen: number) {}

  /**
   * The DuckDB instance of the mirror file at `path`, opened if needed with the job's threads and
   * memory_limit (an open instance with other settings is reopened; both are per instance).
   */
  async acquire(
    path: string,
    threads: number | undefined,
    memoryLimit: string | undefined = undefined,
  ): Promise<MirrorLease> {
    let open = this.mirrors.get(path);
    const id = fileId(path);
    if (
      open &&
      !open.inUse &&
      (open.threads !== threads ||
        open.memoryLimit !== memoryLimit ||
        !id ||
        id.ino !== open.ino ||
        id.dev !== open.dev)
    ) {
      this.close(path);
      open = undefined;
    }
    if (!open) {
      // DuckDB spills to <mirror>.tmp; made private first, so what it writes there is too.
      await privateDir(`${path}.tmp`);
      const instance = await DuckDBInstance.create(path, {
        ...(threads ? { threads: String(threads) } : {}),
        ...(memoryLimit ? { memory_limit: memoryLimit } : {}),
      });
      // DuckDB creates the mirror with the process umask: it holds tenant data.
      await narrowFiles(path, `${path}.wal`);
      const created = fileId(path) ?? { ino: -1, dev: -1 };
      open = { instance, threads, memoryLimit, ...created, inUse: 0 };
    }
    this.mirrors.delete(path);
    this.mirrors.set(path, open);
    open.inUse++;
    const entry = open;
    let released = false;
    return {
      instance: entry.instance,
      release: (healthy) => {
        if (released) return;
        released = true;
        entry.inUse--;
        if (!healthy && !entry.inUse) this.close(path);
        this.trim();
      },
    };
  }

  /** Mirror paths held open now. */
  held(): string[] {
    return [...this.mirrors.keys()];
  }

  /** Closes the given mirrors (those not in use; the pool never asks for one in use). */
  release(paths: readonly string[]): void {
    for (const p of paths) if (!this.mirrors.get(p)?.inUse) this.close(p);
  }

  /** A Postgres pool for `url` with at least `connections` connections. */
  pgPool(url: string, connections: number): pg.Pool {
    const key = `${connections}|${url}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: url,
        max: connections,
        idleTimeoutMillis: 60_000,
        allowExitOnIdle: true,
        application_name: 'trueup-reconcile',
      });
      // A connection that dies (server restart, database dropped), idle or checked out for a
      // mirror's COPY, must not crash the thread: the failed query reports it.
      guardPool(pool);
      this.pools.set(key, pool);
    }
    return pool;
  }

  async closeAll(): Promise<void> {
    for (const p of [...this.mirrors.keys()]) this.close(p);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }

  private trim(): void {
    for (const [p, m] of this.mirrors) {
      if (this.mirrors.size <= this.keepOpen) break;
      if (!m.inUse) this.close(p);
    }
  }

  private close(path: string): void {
    const m = this.mirrors.get(path);
    if (!m) return;
    this.mirrors.delete(path);
    try {
      m.instance.closeSync();
    } catch {
      // already closed
    }
  }
}
