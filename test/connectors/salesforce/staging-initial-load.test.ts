// The staging write path's insert-only fast path, which a Bulk full load takes batch after batch:
// a batch none of whose keys is staged is inserted without ON CONFLICT, and any batch that meets
// a staged key still goes through the version guard. Checked against a model of the guard over a
// sequence that takes every branch of the probe (empty stream, disjoint key range, a range that
// interleaves staged keys without hitting one, overlapping keys), with deletes and duplicates.
import { describe, expect, it } from 'vitest';
import type { Change } from '../../../staging/model/change.js';
import { stageUnit } from '../../../staging/stage.js';
import { useTestDatabase } from '../../support/database.js';

const t = useTestDatabase('sfinitial');

interface ModelRow {
  version: bigint;
  deleted: boolean;
  name: string | null;
}

/** The version guard of write-changes.ts, for plain (non-partial) upserts and deletes. */
function applyModel(model: Map<string, ModelRow>, changes: readonly Change[]) {
  const counts = { inserted: 0, updated: 0, ignored: 0 };
  // One change per id: the newest wins, the later one on ties (collapse()).
  const byId = new Map<string, Change>();
  for (const c of changes) {
    const prev = byId.get(c.sourceId);
    if (prev && c.version < prev.version) {
      counts.ignored++;
      continue;
    }
    if (prev) counts.ignored++;
    byId.set(c.sourceId, c);
  }
  for (const c of byId.values()) {
    const cur = model.get(c.sourceId);
    const next: ModelRow = {
      version: c.version,
      deleted: c.op === 'delete',
      name: c.op === 'delete' ? (cur?.name ?? null) : ((c.fields?.name as string | undefined) ?? null),
    };
    if (!cur) {
      model.set(c.sourceId, next);
      counts.inserted++;
      continue;
    }
    const applies =
      c.op === 'delete'
        ? c.version > cur.version || (c.version === cur.version && !cur.deleted)
        : c.version > cur.version || (c.version === cur.version && !cur.deleted && next.name !== cur.name);
    if (applies) {
      model.set(c.sourceId, next);
      counts.updated++;
    } else counts.ignored++;
  }
  return counts;
}

const id = (n: number, suffix = '') => `001${String(n).padStart(12, '0')}${suffix}`;
const upsert = (n: number, v: number, name = `Acct ${n} v${v}`, suffix = ''): Change => ({
  sourceId: id(n, suffix),
  version: BigInt(v),
  op: 'upsert',
  fields: { name },
  raw: { Id: id(n, suffix), Name: name },
});
const del = (n: number, v: number): Change => ({
  sourceId: id(n),
  version: BigInt(v),
  op: 'delete',
  raw: {},
});

describe('staging initial-load fast path', () => {
  it('gives the same rows and counts as the version guard, whichever probe decides', async () => {
    const range = (a: number, b: number, f: (n: number) => Change) =>
      Array.from({ length: b - a }, (_, i) => f(a + i));
    const batches: Change[][] = [
      // Empty stream, with an in-batch duplicate and a tombstone for a never-seen record.
      [...range(0, 100, (n) => upsert(n, 10)), upsert(5, 11, 'newer twin'), del(100, 10)],
      // Keys beyond every staged one (the range probe says: none staged).
      range(200, 300, (n) => upsert(n, 10)),
      // Keys between staged ones that hit none of them (the per-row probe says: none staged).
      range(0, 100, (n) => upsert(n, 10, `between ${n}`, 'b')),
      // Overlap: older, identical, newer and deleted versions of staged rows, plus new ones.
      [
        ...range(40, 60, (n) => upsert(n, 9)),
        ...range(60, 70, (n) => upsert(n, 10)),
        ...range(70, 80, (n) => upsert(n, 12)),
        ...range(80, 90, (n) => del(n, 12)),
        ...range(300, 310, (n) => upsert(n, 10)),
      ],
      // A tombstone wins ties; an older upsert after it changes nothing, a newer one resurrects.
      [upsert(85, 12, 'tie'), upsert(86, 13, 'back')],
    ];
    const model = new Map<string, ModelRow>();
    for (const changes of batches) {
      const want = applyModel(model, changes);
      const got = await stageUnit(t.staging.pool, {
        tenant: 'fast',
        system: 'crm',
        batches: [{ entity: 'customer', changes }],
      });
      expect(got.customer).toMatchObject({ ...want, received: changes.length, deadLettered: 0 });
    }
    const rows = await t.staging.pool.query<{
      source_id: string;
      version: string;
      deleted: boolean;
      name: string | null;
    }>(
      `SELECT source_id, version::text, deleted_at IS NOT NULL AS deleted, name
         FROM staging.customer WHERE tenant_id = 'fast' ORDER BY source_id`,
    );
    expect(rows.rows).toEqual(
      [...model.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([sourceId, r]) => ({
          source_id: sourceId,
          version: String(r.version),
          deleted: r.deleted,
          name: r.name,
        })),
    );
    // Every write took its own staged_seq.
    const seqs = await t.staging.pool.query<{ n: string; d: string }>(
      `SELECT count(*) AS n, count(DISTINCT staged_seq) AS d FROM staging.customer WHERE tenant_id = 'fast'`,
    );
    expect(seqs.rows[0]!.n).toBe(seqs.rows[0]!.d);
  });
});
