// The mirror's own bookkeeping, in its DuckDB table `meta` (key → value): its identity, how far it
// holds staging (last_seq), its row counts, how far the last run examined (last_run_seq), the
// config that run saw (config_hash) and the version of its xref copy (xref_stamp).
import type { Duck } from '../duckdb/duck.js';
import { SIDES } from './mirror-layout.js';

export async function getMeta(duck: Duck, k: string): Promise<string | undefined> {
  const rows = await duck.rows<{ v: string }>('SELECT v FROM meta WHERE k = $k', { k });
  return rows[0]?.v;
}

/** Sets several meta keys in one statement. */
export async function saveMeta(duck: Duck, kv: Record<string, string>): Promise<void> {
  const entries = Object.entries(kv);
  if (!entries.length) return;
  const params: Record<string, string> = {};
  const values = entries.map(([k, v], i) => {
    params[`k${i}`] = k;
    params[`v${i}`] = v;
    return `($k${i}, $v${i})`;
  });
  await duck.run(`INSERT OR REPLACE INTO meta VALUES ${values.join(', ')}`, params);
}

/** Forgets the kept older versions a run has examined (captured by refreshes up to `seq`). */
export async function clearPrev(duck: Duck, seq: bigint): Promise<void> {
  for (const side of SIDES)
    await duck.run(`DELETE FROM prev_${side} WHERE at_seq <= $s`, { s: seq.toString() });
}
