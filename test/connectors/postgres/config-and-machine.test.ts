// Config schema (example files, error messages, hostile names), LSN arithmetic and the source
// state machine's transition table.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../pipeline/config/load-config.js';
import { postgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { bigIntToLsn, lsnToBigInt } from '../../../pipeline/connectors/postgres/lsn.js';
import { TableMapper } from '../../../pipeline/connectors/postgres/mapping.js';
import {
  initialMachine,
  type Machine,
  type SourceEvent,
  transition,
} from '../../../pipeline/connectors/postgres/source-machine.js';
import { backoffDelay } from '../../../staging/model/backoff.js';

const ROOT = join(import.meta.dirname, '../../..');
const env = { ODOO_PG_PASSWORD: 'x', TWENTY_PG_PASSWORD: 'y' };

describe('postgres connector config', () => {
  it.each(['odoo-erp.yaml', 'twenty-crm.yaml'])('examples/%s passes config validation', async (file) => {
    const text = await readFile(join(ROOT, 'examples', file), 'utf8');
    const cfg = parseConfigText(text, file, env);
    const sys = Object.values(cfg.tenants.acme!.systems)[0]!;
    expect(sys.kind).toBe('postgres');
  });

  it('rejects unknown canonical fields and a second table for one entity, with clear messages', () => {
    const res = postgresSystemConfig.safeParse({
      kind: 'postgres',
      role: 'erp',
      connection: '${env:U}',
      tables: [
        { table: 'a', entity: 'customer', key: ['id'], fields: { nmae: 'name' } },
        { table: 'b', entity: 'customer', key: ['id'], fields: {} },
      ],
    });
    expect(res.success).toBe(false);
    const messages = res.error!.issues.map((i) => i.message);
    expect(messages).toContain('customer has no canonical field "nmae"');
    expect(messages.some((m) => m.includes('one source table per entity and system'))).toBe(true);
  });

  it('quotes hostile table and column names', () => {
    const m = new TableMapper(
      postgresSystemConfig.parse({
        kind: 'postgres',
        role: 'erp',
        connection: '${env:U}',
        tables: [
          {
            schema: 'we"ird',
            table: 'x"; DROP TABLE y; --',
            entity: 'customer',
            key: ['i"d'],
            fields: { name: 'n"m' },
          },
        ],
      }).tables[0]!,
    );
    expect(m.qualified).toBe('"we""ird"."x""; DROP TABLE y; --"');
    expect(m.snapshotSql()).toBe('SELECT t.* FROM "we""ird"."x""; DROP TABLE y; --" AS t');
  });
});

describe('LSN', () => {
  it('round-trips and orders', () => {
    expect(bigIntToLsn(lsnToBigInt('16/B374D848'))).toBe('16/B374D848');
    expect(lsnToBigInt('1/0') > lsnToBigInt('0/FFFFFFFF')).toBe(true);
    expect(() => lsnToBigInt('nope')).toThrow(/not an LSN/);
  });
});

describe('source state machine', () => {
  const policy = { minMs: 100, maxMs: 1000, claimRetryMs: 250 };
  const err = new Error('boom');
  const table: [Machine['state'], SourceEvent, Machine['state']][] = [
    ['claiming', { type: 'claimed' }, 'connecting'],
    ['claiming', { type: 'claim_busy' }, 'waiting'],
    ['claiming', { type: 'transient_error', error: err }, 'backing-off'],
    ['claiming', { type: 'terminal_error', error: err }, 'stopped'],
    ['waiting', { type: 'wait_elapsed' }, 'claiming'],
    ['waiting', { type: 'stop' }, 'stopped'],
    ['connecting', { type: 'connected', needsSnapshot: true }, 'snapshotting'],
    ['connecting', { type: 'connected', needsSnapshot: false }, 'streaming'],
    ['connecting', { type: 'transient_error', error: err }, 'backing-off'],
    ['connecting', { type: 'terminal_error', error: err }, 'stopped'],
    ['snapshotting', { type: 'snapshot_done' }, 'streaming'],
    ['snapshotting', { type: 'transient_error', error: err }, 'backing-off'],
    ['streaming', { type: 'caught_up' }, 'stopped'],
    ['streaming', { type: 'stop' }, 'stopped'],
    ['streaming', { type: 'progress' }, 'streaming'],
    ['streaming', { type: 'transient_error', error: err }, 'backing-off'],
    ['backing-off', { type: 'backoff_elapsed' }, 'claiming'],
    ['backing-off', { type: 'stop' }, 'stopped'],
    ['stopped', { type: 'backoff_elapsed' }, 'stopped'],
  ];
  it.each(table)('%s --%o--> %s', (from, event, to) => {
    expect(transition({ state: from, attempt: 0 }, event, 0, policy).state).toBe(to);
  });

  it('rejects events a state does not expect', () => {
    expect(() => transition(initialMachine(), { type: 'snapshot_done' }, 0, policy)).toThrow(
      /not allowed in state claiming/,
    );
    expect(() => transition({ state: 'waiting', attempt: 0 }, { type: 'claimed' }, 0, policy)).toThrow(
      /not allowed in state waiting/,
    );
  });

  it('backs off geometrically, capped, and resets after progress', () => {
    let m = initialMachine();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      m = transition(m, { type: 'transient_error', error: err }, 0, policy);
      delays.push(m.retryAt!);
      m = transition(m, { type: 'backoff_elapsed' }, 0, policy);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    m = transition(m, { type: 'claimed' }, 0, policy);
    m = transition(m, { type: 'connected', needsSnapshot: false }, 0, policy);
    m = transition(m, { type: 'progress' }, 0, policy);
    expect(m.attempt).toBe(0);
    expect(backoffDelay(1, policy)).toBe(100);
  });

  it('waits for a claim held elsewhere at a fixed interval, without counting failures', () => {
    let m = initialMachine();
    for (let now = 0; now < 1000; now += 250) {
      m = transition(m, { type: 'claim_busy' }, now, policy);
      expect(m).toMatchObject({ state: 'waiting', attempt: 0, retryAt: now + 250 });
      m = transition(m, { type: 'wait_elapsed' }, now + 250, policy);
    }
    expect(transition(m, { type: 'claimed' }, 0, policy)).toMatchObject({ state: 'connecting', attempt: 0 });
  });
});
