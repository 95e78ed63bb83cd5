// Candidate matches for unmatched records: same normalised email, tax id or name on the other
// side, listed on the missing_in_* discrepancy, never linked.
import { afterAll, describe, expect, it } from 'vitest';
import { hintValue, suggestCandidates } from '../../reconcilers/classify/suggestions.js';
import type { MirrorRow } from '../../reconcilers/compare/wide-rows.js';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const row = (side: 'crm' | 'erp', id: string, fields: Record<string, string | null>): MirrorRow => ({
  side,
  source_id: id,
  version: 1n,
  updated_at: null,
  deleted: false,
  fields,
});

describe('suggestCandidates', () => {
  it('normalises like the matcher: letters and digits of any script, case-folded', () => {
    expect(hintValue(' ACME  Corp. ')).toBe('acmecorp.');
    expect(hintValue('Hauptstraße GmbH')).toBe(hintValue('HAUPTSTRASSE gmbh'));
    expect(hintValue('Müller')).not.toBe(hintValue('Möller'));
    expect(hintValue('株式会社 テスト')).toBe('株式会社テスト');
    expect(hintValue(' - ')).toBeNull();
    expect(hintValue(null)).toBeNull();
  });

  it('pairs records of opposite sides sharing a field value, at most five, in id order', () => {
    const erp = Array.from({ length: 7 }, (_v, i) => row('erp', `E${7 - i}`, { name: 'Same Name' }));
    const s = suggestCandidates('customer', [
      row('crm', 'C1', { email: 'A@x.com', tax_id: 'DE-123', name: 'Alpha' }),
      row('erp', 'E9', { email: 'a@x.com', tax_id: null, name: 'Other' }),
      row('erp', 'E8', { email: null, tax_id: 'de123', name: 'Beta' }),
      row('crm', 'C2', { name: 'same name' }),
      row('crm', 'C3', { name: 'Alpha' }), // same side as C1: never a candidate of C1
      ...erp,
    ]);
    expect(s.get('C:C1')).toEqual(['E8', 'E9']);
    expect(s.get('E:E9')).toEqual(['C1']);
    expect(s.get('C:C2')).toEqual(['E1', 'E2', 'E3', 'E4', 'E5']);
    expect(s.get('E:E1')).toEqual(['C2']);
    expect(s.has('C:C3')).toBe(false);
  });
});

describe('in a reconcile run', () => {
  const db = useTestDatabase('recon_suggest');
  afterAll(removeDataDirs);

  it('lists the candidates on both missing_in_* discrepancies and links nothing', async () => {
    const t = 'suggest';
    const cfg = csvTenantConfig(t);
    // Matched on email (the default business key): these two differ there, but share a tax id.
    await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', email: 'old@acme.test', tax_id: 'DE 811 907' }]);
    await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', email: 'ap@acme.test', tax_id: 'de811907' }]);
    const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['customer'], mode: 'full' });
    expect(s.errors).toEqual([]);
    const { rows } = await db.staging.pool.query<{ class: string; detail: unknown }>(
      `SELECT class, detail FROM control.discrepancies WHERE tenant_id = $1 ORDER BY class`,
      [t],
    );
    expect(rows).toEqual([
      { class: 'missing_in_crm', detail: { candidates: ['C1'] } },
      { class: 'missing_in_erp', detail: { candidates: ['E1'] } },
    ]);
    const xref = await db.staging.pool.query('SELECT 1 FROM control.xref WHERE tenant_id = $1', [t]);
    expect(xref.rowCount).toBe(0);
  });
});
