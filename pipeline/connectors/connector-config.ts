// Building blocks for connector config schemas: each connector validates its own part of
// `tenants.<id>.systems.<name>` with a zod schema built from these.
import { z } from 'zod';
import { WHOLE_SECRET_REF } from '../../staging/model/tenant-config.js';

/** A secret: must be a `${env:NAME}` or `${file:/path}` reference, never literal text. */
export const secretRef = () =>
  z
    .string()
    .regex(
      WHOLE_SECRET_REF,
      'secrets must be references such as ${env:NAME} or ${file:/path}, never literal values',
    );

/** A URL that may embed a password only as a reference (postgres://u:${env:PW}@host/db). */
export const connectionUrl = () =>
  z.string().refine((s) => {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+:([^@]+)@/i.exec(s);
    return !m || WHOLE_SECRET_REF.test(m[1]!) || /^\$\{(env|file):[^}]+\}$/.test(s);
  }, 'the password in a connection URL must be a reference such as ${env:PGPASSWORD}');

/** An http(s) base URL; references allowed (resolved at load). */
export const baseUrl = () =>
  z.string().refine((s) => WHOLE_SECRET_REF.test(s) || /^https?:\/\/[^\s]+$/.test(s), 'expected URL');

/**
 * Client limits every API connector accepts (one ApiClient per tenant × system):
 * - requestsPerSecond, concurrency: the tenant's rate limiter and in-flight cap;
 * - maxRetries: retries of one request (and of one result chunk cut mid-stream) after the first try;
 * - timeoutMs: until the response headers arrive; idleTimeoutMs: the longest silence while a
 *   body is read (a long body that keeps arriving never times out);
 * - maxBodyBytes: the largest response body read (default 64 MiB), larger is a clear error;
 * - minBackoffMs / maxBackoffMs: bounds of the exponential backoff with jitter between retries
 *   (default 500 / 30000); maxBackoffMs also caps a Retry-After wait (default cap 60000).
 */
export const clientLimits = z
  .strictObject({
    requestsPerSecond: z.number().positive().default(10),
    concurrency: z.number().int().positive().max(64).default(4),
    maxRetries: z.number().int().min(0).max(20).default(6),
    timeoutMs: z.number().int().positive().default(60_000),
    idleTimeoutMs: z.number().int().positive().default(60_000),
    maxBodyBytes: z.number().int().positive().optional(),
    minBackoffMs: z.number().int().min(1).max(600_000).optional(),
    maxBackoffMs: z.number().int().min(1).max(600_000).optional(),
  })
  .refine(
    (l) => l.minBackoffMs === undefined || l.maxBackoffMs === undefined || l.minBackoffMs <= l.maxBackoffMs,
    {
      message: 'minBackoffMs must not be greater than maxBackoffMs',
      path: ['minBackoffMs'],
    },
  )
  .prefault({});

/** Per-system field-mapping overrides: canonical field ← source field, and value maps for enums. */
export const mappingOverrides = z
  .strictObject({
    fields: z.record(z.string(), z.string()).optional(),
    valueMaps: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  })
  .optional();
