// One reader per slot. Before it touches a slot, a reader claims it with a session advisory lock
// on the staging database, on a connection of its own held for the reader's life:
//   pg_try_advisory_lock(hashtext(tenant), hashtext('cdc ' || system || '/' || slot))
// Postgres releases a session lock when its connection ends, so when the holder dies (crash,
// SIGKILL, lost network) a waiting reader takes over. The lock connection's application_name
// says who holds it (host and pid), for the waiting reader's message and for `trueup status`.
//
// The key is keyed by tenant like the staging write path's transaction locks
// (hashtext(tenant), hashtext(entity)); the 'cdc ' prefix keeps the second half apart from
// entity names.
import { hostname } from 'node:os';
import pg from 'pg';
import type { Staging } from '../../../staging/database.js';

export interface ClaimHolder {
  pid: number;
  applicationName: string;
  clientAddr: string | null;
  since: string;
}

export interface SlotKey {
  tenant: string;
  system: string;
  slot: string;
}

const lockArgs = (k: SlotKey) => [k.tenant, `cdc ${k.system}/${k.slot}`];

/** Who holds the claim on a slot (a session of the staging database), if anyone. */
export async function claimHolder(q: pg.ClientBase | pg.Pool, k: SlotKey): Promise<ClaimHolder | undefined> {
  const res = await q.query<{ pid: number; app: string; addr: string | null; since: string }>(
    `SELECT l.pid, a.application_name AS app, host(a.client_addr) AS addr, a.backend_start::text AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = (hashtext($1)::bigint & 4294967295)::oid
        AND l.objid = (hashtext($2)::bigint & 4294967295)::oid`,
    lockArgs(k),
  );
  const r = res.rows[0];
  return r ? { pid: r.pid, applicationName: r.app, clientAddr: r.addr, since: r.since } : undefined;
}

export function describeHolder(h: ClaimHolder | undefined): string {
  if (!h) return 'another session (it may just have ended)';
  return `"${h.applicationName || 'unknown'}" (staging backend pid ${h.pid}${h.clientAddr ? ` from ${h.clientAddr}` : ''}, connected since ${h.since})`;
}

export class SlotClaim {
  private client: pg.Client | undefined;
  private lost = false;
  private onLostListener: ((err: Error) => void) | undefined;

  constructor(
    private readonly staging: Staging,
    private readonly key: SlotKey,
  ) {}

  /** True while the lock connection is up and holds the claim. */
  get held(): boolean {
    return !!this.client && !this.lost;
  }

  /** Called once if the lock connection breaks while the claim is held: the reader must stop. */
  onLost(listener: (err: Error) => void): void {
    this.onLostListener = listener;
  }

  /** Takes the claim if free (keeps it if already held); otherwise reports who holds it. */
  async tryClaim(): Promise<{ claimed: true } | { claimed: false; holder: ClaimHolder | undefined }> {
    if (this.held) return { claimed: true };
    await this.release();
    const client = new pg.Client({
      ...this.staging.pool.options,
      application_name:
        `trueup sync ${this.key.tenant}/${this.key.system} on ${hostname()} pid ${process.pid}`.slice(0, 63),
      keepAlive: true,
    });
    client.on('error', (err) => this.markLost(err));
    client.on('end', () => this.markLost(new Error('the staging connection holding the slot claim ended')));
    this.lost = false;
    try {
      await client.connect();
      const res = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok',
        lockArgs(this.key),
      );
      if (res.rows[0]?.ok) {
        this.client = client;
        return { claimed: true };
      }
      const holder = await claimHolder(client, this.key);
      await client.end().catch(() => {});
      return { claimed: false, holder };
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  /** Gives the claim up (closing its connection releases the lock). */
  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    this.lost = true; // an 'end' from our own close is not a loss
    await client.end().catch(() => {});
  }

  private markLost(err: Error): void {
    if (this.lost || !this.client) return;
    this.lost = true;
    this.onLostListener?.(err);
  }
}
