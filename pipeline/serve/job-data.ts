// The data of each job kind, checked with zod where a job enters the queue (the JSON API) and
// again where it is run (a job may have been queued by another version of trueup).
import { z } from 'zod';
import { ENTITIES, type Entity } from '../../staging/model/entities.js';

const entity = z.enum(ENTITIES);
const isoTime = z.iso.datetime({ offset: true });

export const reconcileJobData = z.strictObject({
  tenant: z.string().min(1),
  /** Absent: every enabled entity of the tenant. */
  entities: z.array(entity).min(1).optional(),
  full: z.boolean().default(false),
  trigger: z.enum(['schedule', 'api']).default('api'),
  /** The fire instant of a scheduled run (ISO). */
  scheduledAt: isoTime.optional(),
});
export type ReconcileJobData = z.infer<typeof reconcileJobData>;

/** Postgres only (`backfill --where/--table`): a trusted predicate and one mapped table. */
const backfillSource = {
  where: z.string().trim().min(1).optional(),
  table: z.string().min(1).optional(),
};

export const backfillJobData = z.union([
  z.strictObject({
    tenant: z.string().min(1),
    system: z.string().min(1),
    entity,
    window: z
      .strictObject({ from: isoTime, to: isoTime })
      .refine((w) => Date.parse(w.from) < Date.parse(w.to), 'window.from must be before window.to'),
    ...backfillSource,
  }),
  z.strictObject({
    tenant: z.string().min(1),
    system: z.string().min(1),
    entity,
    ids: z.array(z.string().min(1)).min(1).max(100_000),
    ...backfillSource,
  }),
  /** Every row of the entity's table(s) (a postgres system; after a schema change, with `table`). */
  z.strictObject({
    tenant: z.string().min(1),
    system: z.string().min(1),
    entity,
    all: z.literal(true),
    ...backfillSource,
  }),
]);
export type BackfillJobData = z.infer<typeof backfillJobData>;

/** Applies what the tenant's policy approved, after the scheduled run `runId`. */
export const applyJobData = z.strictObject({
  tenant: z.string().min(1),
  runId: z.string().min(1).optional(),
});
export type ApplyJobData = z.infer<typeof applyJobData>;

/** The entities a reconcile job covers: the ones named, else the tenant's enabled ones. */
export function jobEntities(
  d: Pick<ReconcileJobData, 'entities'>,
  tenantEntities: Partial<Record<Entity, { enabled?: boolean }>>,
): Entity[] {
  const all = d.entities ?? ENTITIES;
  return [...new Set(all)].filter((e) => tenantEntities[e]?.enabled !== false).sort();
}

/**
 * The reconcile queue's singletonKey: the tenant for a whole-tenant run, else the tenant and the
 * request. A run asked for while an identical one waits in the queue joins it.
 */
export function reconcileSingletonKey(d: ReconcileJobData): string {
  const scope = d.entities ? [...new Set(d.entities)].sort().join(',') : '*';
  return `${d.tenant}/${scope}/${d.full ? 'full' : 'incremental'}`;
}

/** Zod issues as one line: "entities.0: Invalid option …; full: expected boolean". */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}
