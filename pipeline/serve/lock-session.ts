// Session advisory locks on the staging database, held on one connection of their own. Postgres
// releases them when that connection ends, so a serve process that dies (crash, SIGKILL, lost
// network) frees what it held and another process takes it over — the same scheme as the CDC
// slot claim (pipeline/connectors/postgres/slot-claim.ts). Keys are (hashtext(tenant),
// hashtext(name)); the names serve uses (see LOCK_NAMES) are read by other code too:
//   'poll <system>'    the process that polls an API/CSV source (one per source across processes)
//   'pass <system>'    held only while a pass of that source runs: what in-flight confirmation
//                      waits for (reconcilers' confirmation query), beside 'cdc <system>/<slot>'
//   'reconcile <entity>' a reconcile job of that tenant × entity runs (no two at once)
//   'job <id>'         a job is being run by a live process (job-queue.ts reaps jobs without it)
import { hostname } from 'node:os';
import pg from 'pg';

export const LOCK_NAMES = {
  poll: (system: string) => `poll ${system}`,
  pass: (system: string) => `pass ${system}`,
  reconcile: (entity: string) => `reconcile ${entity}`,
  job: (id: string) => `job ${id}`,
} as const;

export interface LockKey {
  tenant: string;
  name: string;
}

const keyOf = (k: LockKey) => `${k.tenant}\u0000${k.name}`;

export class LockSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();
  private readonly lostListeners = new Set<(err: Error) => void>();
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly poolOptions: pg.PoolConfig,
    private readonly purpose: string,
  ) {}

  /** Called when the connection ends while locks were held: they are gone. */
  onLost(listener: (err: Error) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  isHeld(k: LockKey): boolean {
    return this.held.has(keyOf(k));
  }

  /** Takes the lock if free (true), or leaves it to its holder (false). Holding it already is true. */
  async tryLock(k: LockKey): Promise<boolean> {
    if (this.held.has(keyOf(k))) return true;
    const client = await this.connect();
    const res = await this.serial(() =>
      client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok', [
        k.tenant,
        k.name,
      ]),
    );
    const ok = res.rows[0]?.ok === true;
    if (ok) this.held.add(keyOf(k));
    return ok;
  }

  /** Takes every lock or none (all-or-nothing, so two jobs never hold half of each other's set). */
  async tryLockAll(keys: readonly LockKey[]): Promise<boolean> {
    const taken: LockKey[] = [];
    for (const k of keys) {
      if (this.held.has(keyOf(k))) continue;
      if (!(await this.tryLock(k))) {
        for (const t of taken) await this.unlock(t);
        return false;
      }
      taken.push(k);
    }
    return true;
  }

  async unlock(k: LockKey): Promise<void> {
    if (!this.held.delete(keyOf(k))) return;
    const client = this.client;
    if (!client) return;
    await this.serial(() =>
      client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [k.tenant, k.name]),
    ).catch(() => {});
  }

  /** Ends the connection, which releases every lock it holds. */
  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  /** One query at a time on the connection (the sources of a process share it). */
  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private connect(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error(`the lock session (${this.purpose}) is closed`));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({
        ...this.poolOptions,
        application_name: `trueup serve ${this.purpose} on ${hostname()} pid ${process.pid}`.slice(0, 63),
        keepAlive: true,
      });
      client.on('error', (err) => this.lose(client, err));
      client.on('end', () => this.lose(client, new Error('the staging connection holding the locks ended')));
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private lose(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    const hadLocks = this.held.size > 0;
    this.held.clear();
    void client.end().catch(() => {});
    if (hadLocks && !this.closed) for (const l of this.lostListeners) l(err);
  }
}
