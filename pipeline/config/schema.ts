// The trueup.yaml schema: the tenant config the engine reads (staging/model/tenant-config.ts)
// composed with the system schemas of the registered connectors, plus staging and worker settings.
// Built from the registry when a config is validated, so a kind registered at runtime is known.
import { z } from 'zod';
import { MEMORY_LIMIT_PATTERN } from '../../reconcilers/duckdb/memory-limit.js';
import { TENANT_ID_PATTERN } from '../../staging/identifiers.js';
import {
  type SystemConfigBase,
  type TenantConfig as TenantConfigOf,
  tenantConfigSchema,
} from '../../staging/model/tenant-config.js';
import { connectionUrl } from '../connectors/connector-config.js';
import { connectors } from '../connectors/registry.js';
import { serveConfigSchema } from '../serve/serve-config.js';

/** A system entry as the loaded config holds it: kind and role, plus its connector's own keys. */
export type SystemConfig = SystemConfigBase & Readonly<Record<string, unknown>>;
export type TenantConfig = TenantConfigOf<SystemConfig>;

/** The loaded config: what configSchema() gives, systems typed by their base (kind and role). */
export type TrueupConfig = z.infer<ReturnType<typeof configSchema>>;

/**
 * The systems union of the registered kinds. Connector schemas are loose objects; in trueup.yaml a
 * key no connector reads is a typo to report (`dropdir:` for `dropDir:`), never to ignore, so each
 * is made strict here.
 */
function systemConfigSchema(): z.ZodType<SystemConfig> {
  const [first, ...rest] = connectors().map((c) => c.configSchema.strict());
  if (!first) throw new Error('no connector kinds are registered');
  return z.discriminatedUnion('kind', [first, ...rest]) as unknown as z.ZodType<SystemConfig>;
}

/** The whole config schema, over the connector kinds registered now. */
export function configSchema() {
  return z.strictObject({
    staging: z
      .strictObject({
        /** Postgres URL; absent → the embedded cluster. */
        url: connectionUrl().optional(),
        embedded: z
          .strictObject({
            dataDir: z.string().optional(),
            port: z.number().int().min(1024).max(65535).optional(),
          })
          .prefault({}),
        poolSize: z.number().int().min(1).max(100).default(10),
      })
      .prefault({}),
    /** Where runs write reports, mirrors and working files; default <trueup home>. */
    dataDir: z.string().optional(),
    workers: z
      .strictObject({
        threads: z.number().int().min(1).max(64).optional(),
        /** A reconcile job running longer fails and its worker thread is ended (ms; 0 = no limit). */
        jobTimeoutMs: z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1)
          .default(2 * 60 * 60 * 1000),
      })
      .prefault({}),
    /** DuckDB memory_limit of each reconcile job ("2GB"); default: half the RAM split across worker threads. */
    reconcile: z
      .strictObject({
        memoryLimit: z
          .string()
          .trim()
          .regex(MEMORY_LIMIT_PATTERN, 'a size such as "2GB" or "1536MiB"')
          .optional(),
      })
      .prefault({}),
    serve: serveConfigSchema,
    /** Folders `${file:…}` secrets may be read from, besides the config's folder and /run/secrets. */
    secrets: z.strictObject({ allowedDirs: z.array(z.string().min(1)).default([]) }).optional(),
    tenants: z
      .record(
        z.string().regex(TENANT_ID_PATTERN, 'tenant ids are 1-63 characters of a-z, 0-9, "_" and "-"'),
        tenantConfigSchema(systemConfigSchema()),
      )
      .default({}),
  });
}
