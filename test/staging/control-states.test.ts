// The status values each control module declares once are the ones the database allows: read
// from the live catalog (CHECK constraints, column defaults, the partial indexes over live rows)
// of a migrated database, not from the migration files' text.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_STATES } from '../../pipeline/apply/apply-log.js';
import {
  ACTION_KINDS,
  ACTION_STATUSES,
  actionTransition,
  UNDECIDED_ACTION_STATUSES,
} from '../../staging/control/action-states.js';
import { DEAD_LETTER_STATUSES, deadLetterTransition } from '../../staging/control/dead-letter-states.js';
import {
  DISCREPANCY_CLASSES,
  DISCREPANCY_STATUSES,
  discrepancyTransition,
  LIVE_DISCREPANCY_STATUSES,
} from '../../staging/control/discrepancy-states.js';
import { RUN_STATUSES, runTransition } from '../../staging/control/run-states.js';
import { NEW } from '../../staging/control/transition-table.js';
import { XREF_ORIGINS } from '../../staging/control/xref-states.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase('control_states');
let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
});

/** The quoted literals of a catalog expression: `(status = ANY (ARRAY['open'::text, …]))` → [open, …]. */
const literals = (expr: string) =>
  [...expr.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));

/** Every enumeration CHECK of the control schema (`column IN (…)`): `table.column` → allowed values. */
async function checkConstraints(): Promise<Map<string, string[]>> {
  const { rows } = await client.query<{ tbl: string; col: string; def: string }>(
    `SELECT c.relname AS tbl, a.attname AS col, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
      WHERE n.nspname = 'control' AND k.contype = 'c' AND cardinality(k.conkey) = 1
        AND pg_get_constraintdef(k.oid) LIKE '%= ANY (ARRAY[%'`,
  );
  return new Map(rows.map((r) => [`${r.tbl}.${r.col}`, literals(r.def)]));
}

async function columnDefault(table: string, column: string): Promise<string | undefined> {
  const { rows } = await client.query<{ def: string }>(
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = $1::regclass AND a.attname = $2`,
    [`control.${table}`, column],
  );
  return rows[0] ? literals(rows[0].def)[0] : undefined;
}

async function indexPredicate(index: string): Promise<string[]> {
  const { rows } = await client.query<{ pred: string }>(
    `SELECT pg_get_expr(i.indpred, i.indrelid) AS pred FROM pg_index i WHERE i.indexrelid = $1::regclass`,
    [`control.${index}`],
  );
  return literals(rows[0]!.pred);
}

describe('control tables: declared values equal the database constraints', () => {
  const declared: Record<string, readonly string[]> = {
    'discrepancies.class': DISCREPANCY_CLASSES,
    'discrepancies.status': DISCREPANCY_STATUSES,
    'actions.kind': ACTION_KINDS,
    'actions.status': ACTION_STATUSES,
    'runs.status': RUN_STATUSES,
    'dead_letters.status': DEAD_LETTER_STATUSES,
    'xref.origin': XREF_ORIGINS,
    'apply_log.kind': ACTION_KINDS,
    'apply_log.state': LOG_STATES,
  };

  it('every enumeration CHECK of the control schema has its declaration, with the same values', async () => {
    const checks = await checkConstraints();
    expect([...checks.keys()].sort()).toEqual(Object.keys(declared).sort());
    for (const [column, values] of Object.entries(declared))
      expect([...checks.get(column)!].sort(), column).toEqual([...values].sort());
  });

  it('a new row starts in the status its lifecycle starts in', async () => {
    expect(await columnDefault('discrepancies', 'status')).toBe(discrepancyTransition(NEW, 'seen'));
    expect(await columnDefault('actions', 'status')).toBe(actionTransition(NEW, 'propose'));
    expect(await columnDefault('runs', 'status')).toBe(runTransition(NEW, 'start'));
    expect(await columnDefault('dead_letters', 'status')).toBe(deadLetterTransition(NEW, 'fail'));
  });

  it('the partial indexes over live rows cover exactly the live statuses', async () => {
    expect((await indexPredicate('discrepancies_live')).sort()).toEqual(
      [...LIVE_DISCREPANCY_STATUSES].sort(),
    );
    expect((await indexPredicate('actions_undecided')).sort()).toEqual([...UNDECIDED_ACTION_STATUSES].sort());
    expect(await indexPredicate('dead_letters_open_fingerprint')).toEqual([
      deadLetterTransition(NEW, 'fail'),
    ]);
  });
});
