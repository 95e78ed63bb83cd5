// The close pack and the sign-off, through the CLI as finance would use it: the pack holds the
// period's records only; `trueup close` is refused (and audited) while a material discrepancy of
// the period is open, accepted (and audited) once they are accepted; a discrepancy appearing after
// the sign-off shows in the next pack, with what changed since the last pack of the period.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFile } from 'fast-csv';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type GenerateOptions, generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { type ClosePeriod, parsePeriod } from '../../reports/report-period.js';
import { runCliCaptured } from '../support/cli.js';
import { reportWorld, SMALL_COUNTS } from './report-world.js';

const world = reportWorld('rep_close');
const T = 'closing';
const OPTS: GenerateOptions = { tenant: T, seed: 11, counts: SMALL_COUNTS, currencies: ['USD', 'EUR'] };

async function readCsv(file: string): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  await new Promise<void>((resolve, reject) => {
    parseFile(file, { headers: true })
      .on('data', (r: Record<string, string>) => rows.push(r))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return rows;
}

/** The live discrepancies of the period, computed here independently of the reports' queries. */
async function periodLive(period: ClosePeriod): Promise<{ id: string; material: boolean; status: string }[]> {
  const { rows } = await world.db.staging.pool.query<{ id: string; material: boolean; status: string }>(
    `SELECT d.id::text, d.material, d.status FROM control.discrepancies d
       LEFT JOIN LATERAL (
         SELECT coalesce(max(CASE s.system WHEN 'erp' THEN s.day END), max(CASE s.system WHEN 'crm' THEN s.day END)) AS day
           FROM (SELECT 'order' AS entity, system, source_id, order_date AS day FROM staging."order" WHERE tenant_id = $1
                 UNION ALL SELECT 'invoice', system, source_id, issue_date FROM staging.invoice WHERE tenant_id = $1
                 UNION ALL SELECT 'payment', system, source_id, payment_date FROM staging.payment WHERE tenant_id = $1) s
          WHERE s.entity = d.entity AND ((s.system = 'crm' AND s.source_id = d.crm_id) OR (s.system = 'erp' AND s.source_id = d.erp_id))
       ) b ON true
      WHERE d.tenant_id = $1 AND d.status IN ('open', 'accepted') AND d.entity <> 'subscription'
        AND (b.day IS NULL OR (b.day >= $2::date AND b.day < $3::date))
      ORDER BY d.id`,
    [T, period.start, period.end],
  );
  return rows;
}

describe('close pack and sign-off', () => {
  it('refuses, accepts after acceptance, audits, and shows what appeared after', async () => {
    const made = await world.generated(T, OPTS);
    // The month with the most dated discrepancies is the one to close.
    const full = await readCsv(join((await world.report(T, made.run.runId)).dir, 'discrepancies.csv'));
    const months = new Map<string, number>();
    for (const r of full)
      if (r.business_date)
        months.set(r.business_date.slice(0, 7), (months.get(r.business_date.slice(0, 7)) ?? 0) + 1);
    const PERIOD = [...months].sort((a, b) => b[1] - a[1])[0]![0];
    const configFile = join(world.dir, 'trueup.yaml');
    await writeFile(
      configFile,
      stringify({ dataDir: world.dir, tenants: { [T]: generatorTenantConfig(OPTS) } }),
    );
    const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: world.db.url, config: configFile });

    // The close pack holds the period's records (subscriptions checked apart: their span).
    const pack = await cli(['report', '--tenant', T, '--period', PERIOD, '--json']);
    expect(pack.err).toBe('');
    expect(pack.code).toBe(0);
    const packDir = JSON.parse(pack.out).dir as string;
    expect(packDir).toBe(join(world.dir, 'runs', T, made.run.runId, `close-${PERIOD}`));
    const rows = await readCsv(join(packDir, 'discrepancies.csv'));
    const expected = await periodLive(parsePeriod(PERIOD));
    expect(
      rows
        .filter((r) => r.entity !== 'subscription')
        .map((r) => r.id)
        .sort(),
    ).toEqual(expected.map((d) => d.id).sort());
    for (const r of rows)
      if (r.business_date && r.entity !== 'subscription')
        expect(r.business_date.startsWith(PERIOD)).toBe(true);
    expect(rows.filter((r) => r.business_date?.startsWith(PERIOD)).length).toBe(months.get(PERIOD));
    expect(rows.length).toBeLessThan((await world.live(T)).length);

    // Refused while material discrepancies of the period are open, naming them; audited.
    const blocking = expected.filter((d) => d.material && d.status === 'open').map((d) => d.id);
    expect(blocking.length).toBeGreaterThan(0);
    const refused = await cli(['close', '--tenant', T, '--period', PERIOD, '--by', 'alice']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`cannot sign off ${PERIOD} of tenant ${T}: ${blocking.length} material`);
    for (const id of blocking.slice(0, 20)) expect(refused.err).toMatch(new RegExp(`\\b${id} \\(`));
    const audit = async (action: string) =>
      (
        await world.db.staging.pool.query<{
          actor: string;
          subject: string;
          detail: Record<string, unknown>;
        }>(
          'SELECT actor, subject, detail FROM control.audit WHERE tenant_id = $1 AND action = $2 ORDER BY id',
          [T, action],
        )
      ).rows;
    expect(await audit('close.refuse')).toMatchObject([{ actor: 'alice', subject: `period:${PERIOD}` }]);
    expect((await audit('close.refuse'))[0]!.detail.blocking).toEqual(blocking);

    // Accepted once a reviewer accepted them: recorded, audited, the pack shows it.
    const accept = await cli([
      'discrepancies',
      'accept',
      '--tenant',
      T,
      '--by',
      'bob',
      '--reason',
      'agreed with the customer',
      ...blocking,
    ]);
    expect(accept.err).toBe('');
    expect(accept.code).toBe(0);
    const signed = await cli([
      'close',
      '--tenant',
      T,
      '--period',
      PERIOD,
      '--by',
      'alice',
      '--note',
      'November close',
      '--json',
    ]);
    expect(signed.err).toBe('');
    expect(signed.code).toBe(0);
    const out = JSON.parse(signed.out);
    expect(out).toMatchObject({
      signed: true,
      signoff: { signedBy: 'alice', runId: made.run.runId, note: 'November close' },
    });
    expect([...out.signoff.discrepancyIds].sort()).toEqual(rows.map((r) => r.id).sort());
    const signoffs = await audit('close.signoff');
    expect(signoffs).toMatchObject([{ actor: 'alice', subject: `period:${PERIOD}` }]);
    expect(signoffs[0]!.detail).toMatchObject({ runId: made.run.runId, note: 'November close' });
    const signedHtml = await readFile(join(packDir, 'report.html'), 'utf8');
    expect(signedHtml).toContain('Signed off');
    expect(signedHtml).toContain('Nothing appeared after the latest sign-off.');

    // A material discrepancy of the period appears after the sign-off: an invoice the ERP lacks.
    await world.stage(T, 'crm', 'invoice', [
      {
        id: 'late-inv',
        number: 'INV-LATE',
        issue_date: `${PERIOD}-15`,
        currency: 'USD',
        total: '5000.00',
        customer_ref: 'x',
      },
    ]);
    const later = await world.reconcile(T, made.config, 'incremental');
    const { rows: lateRows } = await world.db.staging.pool.query<{ id: string }>(
      `SELECT id::text FROM control.discrepancies WHERE tenant_id = $1 AND match_key = 'C:late-inv'`,
      [T],
    );
    const late = lateRows[0]!.id;
    const next = await cli(['report', '--tenant', T, '--period', PERIOD]);
    expect(next.code).toBe(0);
    const nextDir = join(world.dir, 'runs', T, later.runId, `close-${PERIOD}`);
    const summary = JSON.parse(await readFile(join(nextDir, 'summary.json'), 'utf8'));
    expect(summary.close.afterSignoff).toEqual([late]);
    expect(summary.close.signoffs).toMatchObject([{ signedBy: 'alice' }]);
    expect(summary.close.changes.since.runId).toBe(made.run.runId);
    expect(summary.close.changes.appeared).toEqual([late]);
    expect(summary.close.changes.gone).toEqual([]);
    // The last pack of the period is the one written at the sign-off: the acceptances came before.
    expect(summary.close.changes.changed).toEqual([]);
    const nextHtml = await readFile(join(nextDir, 'report.html'), 'utf8');
    expect(nextHtml).toContain('1 discrepancy appeared after the sign-off by alice');

    // And signing again is refused until it is dealt with.
    const again = await cli(['close', '--tenant', T, '--period', PERIOD, '--by', 'alice']);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`${late} (invoice missing_in_erp C:late-inv: 5000`);
  });
});
