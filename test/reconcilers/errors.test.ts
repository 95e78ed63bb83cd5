// Every error class of the reconcilers and the control tables is a TrueupError with a kind and a
// subject, so callers test errors with instanceof and kind; a job's error keeps its kind and
// subject across the worker-thread boundary.
import { describe, expect, it } from 'vitest';
import { MirrorConfigError } from '../../reconcilers/mirror/mirror-layout.js';
import type { ReconcileJob } from '../../reconcilers/pool/job-protocol.js';
import { runJob } from '../../reconcilers/pool/reconcile-worker.js';
import { JobTimeoutError, Scheduler, WorkerCrashError } from '../../reconcilers/pool/scheduler.js';
import { ReconcileError, tenantSlice } from '../../reconcilers/run/tenant-slice.js';
import { DecideError } from '../../staging/control/actions.js';
import { AcceptError } from '../../staging/control/discrepancies.js';
import { MissingRecordError } from '../../staging/control/xref.js';
import { StagingError } from '../../staging/errors.js';
import { assertTenantId, InvalidIdentifierError } from '../../staging/identifiers.js';
import { TrueupError } from '../../staging/model/errors.js';
import { entityConfigSchema } from '../../staging/model/tenant-config.js';
import { csvTenantConfig } from './helpers.js';

const job = { tenant: 'acme', entity: 'customer' } as const;

describe('error classes', () => {
  it.each([
    [new StagingError('x', 'transient', { tenant: 'acme' }), 'StagingError', 'transient', { tenant: 'acme' }],
    [new InvalidIdentifierError('bad'), 'InvalidIdentifierError', 'terminal', {}],
    [new MissingRecordError('acme', 'customer', []), 'MissingRecordError', 'terminal', job],
    [
      new ReconcileError('x', { subject: { tenant: 'acme' } }),
      'ReconcileError',
      'terminal',
      { tenant: 'acme' },
    ],
    [
      new MirrorConfigError('customer', 'nope'),
      'MirrorConfigError',
      'terminal',
      { entity: 'customer', field: 'nope' },
    ],
    [new WorkerCrashError(job, new Error('boom')), 'WorkerCrashError', 'transient', job],
    [new JobTimeoutError(job, 5), 'JobTimeoutError', 'transient', job],
    [
      new DecideError('x', { tenant: 'acme', decision: 'approve', missing: [], notAllowed: [] }),
      'DecideError',
      'terminal',
      { tenant: 'acme' },
    ],
    [
      new AcceptError('x', { tenant: 'acme', missing: [], resolved: [] }),
      'AcceptError',
      'terminal',
      { tenant: 'acme' },
    ],
  ] as const)('%o is a TrueupError named %s, %s, about %o', (err, name, kind, subject) => {
    expect(err).toBeInstanceOf(TrueupError);
    expect(err).toMatchObject({ name, kind, subject });
  });

  it('thrown where they belong', () => {
    expect(() => assertTenantId('Bad Id')).toThrow(InvalidIdentifierError);
    const noErp = { ...csvTenantConfig('t'), systems: { crm: { kind: 'csv', role: 'crm' as const } } };
    expect(() => tenantSlice(noErp, 'customer')).toThrow(ReconcileError);
  });

  it("a job's error keeps its name, kind and subject across the thread boundary", async () => {
    // A mirror config error, as the worker thread replies with it.
    const bad = {
      ...job,
      mirrorDir: '/nonexistent/trueup-test',
      config: { entity: entityConfigSchema.parse({ match: { keys: [{ field: 'nope' }] } }) },
    } as unknown as ReconcileJob;
    const reply = await runJob({ job: bad, keepOpen: 0 });
    expect(reply).toMatchObject({
      ok: false,
      error: { name: 'MirrorConfigError', kind: 'terminal', subject: { entity: 'customer', field: 'nope' } },
    });
    const s = new Scheduler(1, { run: async () => reply, release: async () => {}, close: async () => {} });
    const err = await s.run(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrueupError);
    expect(err).toMatchObject({ name: 'MirrorConfigError', kind: 'terminal', subject: { field: 'nope' } });
  });
});
