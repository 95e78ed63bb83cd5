// serve's syncs report what `trueup sync` reports: a pass of a source (trueup's real work on a CSV
// drop) records per entity the rows read, staged, tombstoned and dead-lettered (with reasons) in
// the source's status (/api/status) and the log, and an entity whose dead letters exceed the
// tenant's sync.maxDeadLetterShare is logged as an error naming the mapping and counted in
// trueup_dead_letter_alerts_total. A backfill job over the threshold completes alerting: its
// output names the mapping, and trueup_jobs_run_total counts it as `alerting`.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../pipeline/log/logger.js';
import { trueupWork } from '../../pipeline/serve/jobs.js';
import type { RunningServe } from '../../pipeline/serve/serve.js';
import type { SourceStatus } from '../../pipeline/serve/sources.js';
import type { CaptureReport } from '../../pipeline/serve/work.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  config,
  http,
  parsePrometheus,
  quietLogger,
  recordingWork,
  sampleValue,
  serveSettings,
  startTestServe,
  until,
} from './support.js';

let db: TestDatabase;
let dir: string;
const lines: Record<string, unknown>[] = [];
const MAPPING =
  /look at the customer mapping of system crm \(tenants\.acme\.systems\.crm, tenants\.acme\.entities\.customer\.mapping\.crm\)/;

const yaml = (d: string) => `
dataDir: ${d}/data
tenants:
  acme:
    sync: { maxDeadLetterShare: 0.1 }
    systems:
      crm: { kind: csv, role: crm, dropDir: ${d}/crm }
      erp: { kind: csv, role: erp, dropDir: ${d}/erp }
`;

beforeAll(async () => {
  db = await createTestDatabase('servesyncrep');
  dir = await mkdtemp(join(tmpdir(), 'trueup-serve-syncrep-'));
  await mkdir(join(dir, 'crm', 'customer'), { recursive: true });
  await mkdir(join(dir, 'erp'), { recursive: true });
  // 2 good rows, 3 whose credit limit is no number: 3 of 5 dead-lettered, over 10 %.
  await writeFile(
    join(dir, 'crm', 'customer', 'customers.csv'),
    'id,name,credit_limit\nC1,Acme,10\nC2,Beta,20\nC3,Bad1,lots\nC4,Bad2,lots\nC5,Bad3,lots\n',
  );
});

afterAll(async () => {
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scrape(serve: RunningServe) {
  return parsePrometheus((await http(`${serve.url}/metrics`)).text);
}

describe("serve's syncs report per entity and alert past sync.maxDeadLetterShare", () => {
  it('a pass records the per-entity figures and names the mapping over the threshold', async () => {
    const logger = createLogger({
      level: 'info',
      pretty: false,
      destination: {
        write(line: string) {
          lines.push(JSON.parse(line));
        },
      },
    });
    const work = trueupWork({
      staging: db.staging,
      stagingUrl: db.url,
      dataDir: join(dir, 'data'),
      logger: quietLogger(),
      workers: { threads: 1, jobTimeoutMs: 60_000 },
    });
    const serve = await startTestServe(db, config(yaml(dir)), work, {
      serve: serveSettings({ pollSeconds: 3600 }),
      logger,
      parts: { jobs: false, scheduler: false },
    });
    try {
      let crm: SourceStatus | undefined;
      await until('the crm source passed once', async () => {
        const status = (await http(`${serve.url}/api/status`)).json as { sources: SourceStatus[] };
        crm = status.sources.find((s) => s.system === 'crm');
        return crm?.lastPass !== undefined;
      });
      expect(crm!.lastPass).toMatchObject({
        status: 'completed',
        entities: [
          {
            entity: 'customer',
            read: 5,
            staged: 2,
            tombstones: 0,
            deadLetters: 3,
            openDeadLetters: 3,
            reasons: [
              expect.objectContaining({ kind: 'invalid_record', count: 3, sourceIds: ['C3', 'C4', 'C5'] }),
            ],
          },
        ],
        deadLetterAlerts: [
          {
            entity: 'customer',
            deadLetters: 3,
            read: 5,
            message: expect.stringMatching(MAPPING),
          },
        ],
      });
      expect(crm!.lastPass!.deadLetterAlerts[0]!.message).toMatch(
        /^acme\/crm customer: 3 of 5 rows read were dead-lettered \(60%, above sync\.maxDeadLetterShare 10%\)/,
      );
      const m = await scrape(serve);
      expect(
        sampleValue(m, 'trueup_dead_letter_alerts_total', {
          tenant: 'acme',
          system: 'crm',
          entity: 'customer',
        }),
      ).toBe(1);
      expect(sampleValue(m, 'trueup_dead_letter_alerts_total', { system: 'erp' })).toBeUndefined();
      // The log: the figures per entity, and the alert as an error naming the mapping.
      const figures = lines.find((l) => l.msg === 'pass staged, per entity' && l.system === 'crm');
      expect(figures).toMatchObject({
        tenant: 'acme',
        entities: [{ entity: 'customer', read: 5, staged: 2, deadLetters: 3 }],
      });
      const alert = lines.find((l) => String(l.msg).startsWith('over the dead-letter threshold'));
      expect(alert).toMatchObject({ level: 50, tenant: 'acme', system: 'crm', entity: 'customer' });
      expect(String(alert!.msg)).toMatch(MAPPING);
      // The erp source (an empty drop) passed without an alert.
      const erp = ((await http(`${serve.url}/api/status`)).json as { sources: SourceStatus[] }).sources.find(
        (s) => s.system === 'erp',
      );
      expect(erp?.lastPass?.deadLetterAlerts ?? []).toEqual([]);
    } finally {
      await serve.stop();
      await work.close();
    }
  });

  it('a backfill job over the threshold completes alerting, its output naming the mapping', async () => {
    const alerting: CaptureReport = {
      status: 'completed',
      requests: 0,
      retries: 0,
      throttled: 0,
      streams: [{ entity: 'customer', staged: 1, deadLettered: 4 }],
      entities: [
        {
          entity: 'customer',
          read: 5,
          staged: 1,
          tombstones: 0,
          deadLetters: 4,
          openDeadLetters: 4,
          reasons: [],
        },
      ],
      deadLetterAlerts: [
        {
          entity: 'customer',
          deadLetters: 4,
          read: 5,
          message:
            'acme/crm customer: 4 of 5 rows read were dead-lettered (80%, above sync.maxDeadLetterShare 10%); look at the customer mapping of system crm (tenants.acme.systems.crm, tenants.acme.entities.customer.mapping.crm)',
        },
      ],
    };
    const work = { ...recordingWork('w', []), backfill: async () => alerting };
    const serve = await startTestServe(db, config(yaml(dir)), work, {
      parts: { sources: false, scheduler: false },
    });
    try {
      const post = await http(`${serve.url}/api/tenants/acme/backfills`, {
        method: 'POST',
        body: { system: 'crm', entity: 'customer', ids: ['C3'] },
      });
      expect(post.status).toBe(202);
      const id = (post.json as { job: { id: string } }).job.id;
      let job: { state: string; output: Record<string, unknown> } | undefined;
      await until('the backfill finished', async () => {
        job = ((await http(`${serve.url}/api/jobs/backfill/${id}`)).json as { job?: typeof job }).job;
        return job?.state === 'completed';
      });
      expect(job!.output).toMatchObject({
        alerting: true,
        entities: [expect.objectContaining({ entity: 'customer', deadLetters: 4 })],
        deadLetterAlerts: [expect.objectContaining({ message: expect.stringMatching(MAPPING) })],
      });
      const m = await scrape(serve);
      expect(sampleValue(m, 'trueup_jobs_run_total', { kind: 'backfill', outcome: 'alerting' })).toBe(1);
      expect(
        sampleValue(m, 'trueup_dead_letter_alerts_total', {
          tenant: 'acme',
          system: 'crm',
          entity: 'customer',
        }),
      ).toBe(1);
    } finally {
      await serve.stop();
    }
  });
});
