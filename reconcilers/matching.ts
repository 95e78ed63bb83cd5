// Matching one tenant × entity inside the DuckDB mirror: candidate links from the xref table,
// direct keys (a CRM field holding the ERP id or the reverse) and business keys (normalised),
// then resolution level by level — explicit links (xref + direct) first, then each business key
// in configured order, among records not yet claimed. At each level a record with several
// partners is a duplicate_match and claims them all; one-to-one links become pairs. Tombstones
// take part in explicit links only (so deleted_in_one is seen); business keys match live records.
//
// Incremental mode restricts all this to a scope: the records changed since the last run, those
// in open discrepancies, those whose xref links changed — closed under candidate links (current
// and the last run's) so that the result inside the scope equals a full run's.
import type { EntityConfig } from '../pipeline/config/schema.js';
import { duckIdent } from './comparators.js';
import type { Duck } from './duck.js';

const NORMALISERS: Record<string, (x: string) => string> = {
  none: (x) => x,
  text: (x) => `lower(regexp_replace(trim(nfc_normalize(${x})), '\\s+', ' ', 'g'))`,
  email: (x) => `lower(trim(${x}))`,
  tax_id: (x) => `upper(regexp_replace(${x}, '[^A-Za-z0-9]', '', 'g'))`,
  phone: (x) => `regexp_replace(${x}, '[^0-9]', '', 'g')`,
  name: (x) =>
    `lower(trim(regexp_replace(regexp_replace(${x}, '[^[:alnum:] ]', ' ', 'g'), '\\s+', ' ', 'g')))`,
};

export const CRM = `(SELECT * FROM rec WHERE side = 'crm')`;
export const ERP = `(SELECT * FROM rec WHERE side = 'erp')`;

/** Rebuilds (all) or updates (from `delta`) the normalised business keys. */
export async function refreshKeys(duck: Duck, cfg: EntityConfig, rebuild: boolean): Promise<void> {
  const src = rebuild ? 'rec' : 'delta';
  if (rebuild) await duck.run('DELETE FROM mkeys');
  else
    await duck.run(
      'DELETE FROM mkeys USING delta WHERE mkeys.side = delta.side AND mkeys.source_id = delta.source_id',
    );
  for (const [i, key] of cfg.match.keys.entries()) {
    const norm = (NORMALISERS[key.normalise] ?? NORMALISERS.text!)(`${src}.${duckIdent(key.field)}`);
    await duck.run(
      `INSERT INTO mkeys SELECT side, source_id, ${i + 1}, k FROM (SELECT side, source_id, ${norm} AS k, deleted FROM ${src})
        WHERE NOT deleted AND k IS NOT NULL AND k <> ''`,
    );
  }
}

interface Piece {
  from: string;
  crmId: string;
  erpId: string;
  lvl: number;
}

function pieces(cfg: EntityConfig): Piece[] {
  const out: Piece[] = [
    {
      from: `xref_now x JOIN ${CRM} c ON c.source_id = x.crm_id JOIN ${ERP} e ON e.source_id = x.erp_id`,
      crmId: 'x.crm_id',
      erpId: 'x.erp_id',
      lvl: 0,
    },
  ];
  for (const d of cfg.match.direct) {
    const f = duckIdent(d.field);
    if (d.side === 'crm')
      out.push({
        from: `${CRM} c JOIN ${ERP} e ON e.source_id = c.${f}`,
        crmId: 'c.source_id',
        erpId: 'e.source_id',
        lvl: 0,
      });
    else
      out.push({
        from: `${ERP} e JOIN ${CRM} c ON c.source_id = e.${f}`,
        crmId: 'c.source_id',
        erpId: 'e.source_id',
        lvl: 0,
      });
  }
  for (let i = 1; i <= cfg.match.keys.length; i++)
    out.push({
      from: `mkeys a JOIN mkeys b ON a.k = b.k AND a.lvl = b.lvl AND a.lvl = ${i} AND a.side = 'crm' AND b.side = 'erp'`,
      crmId: 'a.source_id',
      erpId: 'b.source_id',
      lvl: i,
    });
  return out;
}

/** SQL of all current candidate links (src 'n'), restricted to the scope when `scoped`. */
function candidateSql(cfg: EntityConfig, scoped: boolean): string {
  const parts: string[] = [];
  for (const p of pieces(cfg)) {
    const sel = `SELECT ${p.crmId} AS crm_id, ${p.erpId} AS erp_id, ${p.lvl} AS lvl, 'n' AS src FROM ${p.from}`;
    if (!scoped) parts.push(sel);
    else {
      parts.push(`${sel} WHERE ${p.crmId} IN (SELECT source_id FROM scope_crm)`);
      parts.push(`${sel} WHERE ${p.erpId} IN (SELECT source_id FROM scope_erp)`);
    }
  }
  return parts.join('\nUNION\n');
}

export interface ScopeSeed {
  lastRunSeq: bigint;
  open: { crm: string[]; erp: string[] };
}

/** Builds and closes the incremental scope. Returns its size. */
export async function buildScope(
  duck: Duck,
  cfg: EntityConfig,
  seed: ScopeSeed,
): Promise<{ crm: number; erp: number }> {
  await duck.run('CREATE OR REPLACE TEMP TABLE scope_crm (source_id VARCHAR)');
  await duck.run('CREATE OR REPLACE TEMP TABLE scope_erp (source_id VARCHAR)');
  for (const side of ['crm', 'erp'] as const) {
    const t = `scope_${side}`;
    await duck.run(`INSERT INTO ${t} SELECT source_id FROM rec WHERE side = '${side}' AND staged_seq > $s`, {
      s: seed.lastRunSeq.toString(),
    });
    await appendIds(duck, t, seed.open[side]);
    const col = `${side}_id`;
    await duck.run(
      `INSERT INTO ${t} SELECT ${col} FROM ((SELECT * FROM xref_now EXCEPT SELECT * FROM pxref) UNION ALL (SELECT * FROM pxref EXCEPT SELECT * FROM xref_now))`,
    );
  }
  await dedupe(duck);
  const sql = `${candidateSql(cfg, true)}
    UNION SELECT crm_id, erp_id, lvl, 'p' FROM plinks WHERE crm_id IN (SELECT source_id FROM scope_crm)
    UNION SELECT crm_id, erp_id, lvl, 'p' FROM plinks WHERE erp_id IN (SELECT source_id FROM scope_erp)`;
  for (let i = 0; i < 50; i++) {
    await duck.run(`CREATE OR REPLACE TEMP TABLE cand AS ${sql}`);
    const before = await scopeSize(duck);
    await duck.run(
      'INSERT INTO scope_crm SELECT DISTINCT crm_id FROM cand WHERE crm_id NOT IN (SELECT source_id FROM scope_crm)',
    );
    await duck.run(
      'INSERT INTO scope_erp SELECT DISTINCT erp_id FROM cand WHERE erp_id NOT IN (SELECT source_id FROM scope_erp)',
    );
    const after = await scopeSize(duck);
    if (after.crm === before.crm && after.erp === before.erp) return after;
  }
  throw new Error('incremental scope did not close after 50 expansions');
}

async function dedupe(duck: Duck): Promise<void> {
  for (const t of ['scope_crm', 'scope_erp'])
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${t} AS SELECT DISTINCT source_id FROM ${t} WHERE source_id IS NOT NULL`,
    );
}

async function scopeSize(duck: Duck): Promise<{ crm: number; erp: number }> {
  const r = await duck.rows<{ c: bigint; e: bigint }>(
    'SELECT (SELECT count(*) FROM scope_crm) AS c, (SELECT count(*) FROM scope_erp) AS e',
  );
  return { crm: Number(r[0]?.c ?? 0), erp: Number(r[0]?.e ?? 0) };
}

export async function appendIds(duck: Duck, table: string, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const app = await duck.conn.createAppender(table);
  for (const id of ids) {
    app.appendVarchar(id);
    app.endRow();
  }
  app.closeSync();
}

/** Loads the tenant's xref links of this entity (small) into `xref_now`. */
export async function loadXref(
  duck: Duck,
  links: readonly { crmId: string; erpId: string }[],
): Promise<void> {
  await duck.run('CREATE OR REPLACE TEMP TABLE xref_now (crm_id VARCHAR, erp_id VARCHAR)');
  if (!links.length) return;
  const app = await duck.conn.createAppender('xref_now');
  for (const l of links) {
    app.appendVarchar(l.crmId);
    app.appendVarchar(l.erpId);
    app.endRow();
  }
  app.closeSync();
}

/**
 * Resolves candidate links into `pairs(crm_id, erp_id, lvl)`, `dups(side, id, partners)` and
 * `lone(side, source_id)` (live, unclaimed records), within the scope when `scoped`.
 */
export async function resolveMatches(duck: Duck, cfg: EntityConfig, scoped: boolean): Promise<void> {
  if (!scoped) await duck.run(`CREATE OR REPLACE TEMP TABLE cand AS ${candidateSql(cfg, false)}`);
  await duck.run('CREATE OR REPLACE TEMP TABLE claimed_crm (id VARCHAR)');
  await duck.run('CREATE OR REPLACE TEMP TABLE claimed_erp (id VARCHAR)');
  await duck.run('CREATE OR REPLACE TEMP TABLE pairs (crm_id VARCHAR, erp_id VARCHAR, lvl INTEGER)');
  await duck.run('CREATE OR REPLACE TEMP TABLE dups (side VARCHAR, id VARCHAR, partners VARCHAR[])');
  for (let lvl = 0; lvl <= cfg.match.keys.length; lvl++) {
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE l AS SELECT DISTINCT crm_id, erp_id FROM cand
        WHERE src = 'n' AND lvl = ${lvl} AND crm_id NOT IN (SELECT id FROM claimed_crm) AND erp_id NOT IN (SELECT id FROM claimed_erp)`,
    );
    await duck.run(
      `INSERT INTO dups SELECT 'crm', crm_id, list(erp_id ORDER BY erp_id) FROM l GROUP BY crm_id HAVING count(*) > 1`,
    );
    await duck.run(
      `INSERT INTO dups SELECT 'erp', erp_id, list(crm_id ORDER BY crm_id) FROM l GROUP BY erp_id HAVING count(*) > 1`,
    );
    await duck.run(
      `INSERT INTO pairs SELECT crm_id, erp_id, ${lvl} FROM l
        WHERE crm_id NOT IN (SELECT crm_id FROM l GROUP BY crm_id HAVING count(*) > 1)
          AND erp_id NOT IN (SELECT erp_id FROM l GROUP BY erp_id HAVING count(*) > 1)`,
    );
    await duck.run('INSERT INTO claimed_crm SELECT DISTINCT crm_id FROM l');
    await duck.run('INSERT INTO claimed_erp SELECT DISTINCT erp_id FROM l');
  }
  const inScope = (side: string) => (scoped ? `AND source_id IN (SELECT source_id FROM scope_${side})` : '');
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE lone AS
      SELECT side, source_id FROM rec WHERE side = 'crm' AND NOT deleted ${inScope('crm')} AND source_id NOT IN (SELECT id FROM claimed_crm)
      UNION ALL
      SELECT side, source_id FROM rec WHERE side = 'erp' AND NOT deleted ${inScope('erp')} AND source_id NOT IN (SELECT id FROM claimed_erp)`,
  );
}

/** Saves this run's candidate links and xref set for the next incremental run. */
export async function persistLinks(duck: Duck, scoped: boolean): Promise<void> {
  if (scoped) {
    await duck.run(
      'DELETE FROM plinks WHERE crm_id IN (SELECT source_id FROM scope_crm) OR erp_id IN (SELECT source_id FROM scope_erp)',
    );
    await duck.run(`INSERT INTO plinks SELECT DISTINCT crm_id, erp_id, lvl FROM cand WHERE src = 'n'`);
  } else {
    await duck.run('DELETE FROM plinks');
    await duck.run(`INSERT INTO plinks SELECT DISTINCT crm_id, erp_id, lvl FROM cand`);
  }
  await duck.run('DELETE FROM pxref');
  await duck.run('INSERT INTO pxref SELECT DISTINCT * FROM xref_now');
}
