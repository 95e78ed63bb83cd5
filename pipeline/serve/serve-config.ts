// The `serve:` block of trueup.yaml: where `trueup serve` listens and how it paces its work. The
// config loader (pipeline/config/schema.ts) composes it; the tenant's own `schedule` and
// `timezone` stay in the tenant config. Validated before secret references are resolved, so the
// token can be required to be a reference.
import { z } from 'zod';
import { WHOLE_SECRET_REF } from '../../staging/model/tenant-config.js';

export const serveConfigSchema = z
  .strictObject({
    /** Address of the HTTP endpoints; anything but loopback requires `token`. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8470),
    /** Bearer token for every endpoint but /healthz and /readyz: a secret reference, never literal. */
    token: z
      .string()
      .regex(
        WHOLE_SECRET_REF,
        'the serve token must be a reference such as ${env:TRUEUP_SERVE_TOKEN} or ${file:/path}, never a literal value',
      )
      .optional(),
    /** Seconds between two passes of an API or CSV source (a pass that runs longer delays the next). */
    pollSeconds: z.number().int().min(1).max(86_400).default(300),
    /** Reconcile, backfill and apply jobs this process runs at the same time. */
    concurrency: z.number().int().min(1).max(32).default(2),
    /** A scheduled run found this late (a busy or restarted process) still runs; later ones are missed. */
    missedRunGraceSeconds: z.number().int().min(0).max(86_400).default(300),
    /** How long in-flight confirmation of a scheduled or triggered run waits for live sources (ms). */
    confirmWaitMs: z.number().int().min(0).max(600_000).default(10_000),
    /**
     * After SIGTERM: how long running jobs may take to finish before they are handed back to the
     * queue (another process, or this one after its restart, runs them again). Below the CLI's
     * 30 s stop limit.
     */
    shutdownSeconds: z.number().int().min(1).max(25).default(20),
    /** Metrics read from the database are cached this long, so many scrapers cost one query set. */
    metricsCacheSeconds: z.number().int().min(0).max(3_600).default(10),
  })
  .prefault({});

export type ServeConfig = z.infer<typeof serveConfigSchema>;

/** The defaults, for a config that has no `serve:` block (or a loader that does not know it yet). */
export const DEFAULT_SERVE_CONFIG: Readonly<ServeConfig> = Object.freeze(serveConfigSchema.parse(undefined));

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}
