// The trueup.yaml schema. Parsed once, validated here, frozen and handed down. Connector-specific
// parts of each system are validated by that connector's own schema (connectors/registry.ts).
import cron from 'node-cron';
import { z } from 'zod';
import { TENANT_ID_PATTERN } from '../../staging/identifiers.js';
import { ENTITIES, ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
import { DECIMAL_PATTERN } from '../../staging/model/money.js';
import { connectionUrl } from '../connectors/connector-config.js';
import { SYSTEM_CONFIG_SCHEMAS } from '../connectors/registry.js';

const decimal = z.string().regex(DECIMAL_PATTERN, 'expected a decimal string such as "100.00"');
const SYSTEM_NAME = /^[a-z][a-z0-9_]{0,30}$/;

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone such as "Europe/Berlin"');

const cronExpression = z
  .string()
  .refine((c) => cron.validate(c), 'expected a cron expression such as "0 2 * * *"');

export const comparatorSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('exact') }),
  z.strictObject({
    type: z.literal('text'),
    trim: z.boolean().default(true),
    caseFold: z.boolean().default(true),
    collapseSpaces: z.boolean().default(true),
    unicode: z.enum(['NFC', 'NFKC', 'none']).default('NFKC'),
  }),
  z.strictObject({
    type: z.literal('numeric'),
    absolute: decimal.optional(),
    relative: z.number().min(0).max(1).optional(),
  }),
  z.strictObject({
    type: z.literal('money'),
    /** Differences below this many minor units are equal (default: exact to the minor unit). */
    toleranceMinor: z.number().int().min(0).default(0),
  }),
  z.strictObject({
    type: z.literal('date'),
    granularity: z.enum(['second', 'minute', 'hour', 'day', 'month']).default('day'),
    zone: timezone.default('UTC'),
  }),
  z.strictObject({
    type: z.literal('enum'),
    /** Source value → canonical value, per system name. */
    valueMap: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  }),
]);
export type ComparatorConfig = z.infer<typeof comparatorSchema>;

export const survivorshipRule = z.discriminatedUnion('rule', [
  z.strictObject({ rule: z.literal('owner'), owner: z.enum(['crm', 'erp']).optional() }),
  z.strictObject({ rule: z.literal('most_recent') }),
  z.strictObject({ rule: z.literal('most_complete') }),
  z.strictObject({ rule: z.literal('max') }),
  z.strictObject({ rule: z.literal('min') }),
  z.strictObject({ rule: z.literal('report_only') }),
]);
export type SurvivorshipRule = z.infer<typeof survivorshipRule>;

const normaliser = z.enum(['none', 'text', 'email', 'tax_id', 'phone', 'name']);

const entityConfig = z.strictObject({
  enabled: z.boolean().default(true),
  match: z
    .strictObject({
      /** Canonical field on the CRM record that holds the ERP source id, and the reverse. */
      direct: z.array(z.strictObject({ side: z.enum(['crm', 'erp']), field: z.string() })).default([
        { side: 'crm', field: 'erp_ref' },
        { side: 'erp', field: 'crm_ref' },
      ]),
      /** Business keys tried in order after xref and direct keys. */
      keys: z.array(z.strictObject({ field: z.string(), normalise: normaliser.default('text') })).default([]),
    })
    .prefault({}),
  compare: z.record(z.string(), comparatorSchema).default({}),
  /** Field values treated as equal to null on either side (Salesforce CSV cannot tell null from ""). */
  nullEquivalents: z.array(z.string()).default(['']),
  ignoreFields: z.array(z.string()).default([]),
  survivorship: z.record(z.string(), survivorshipRule).default({}),
  /** Mapping overrides per system name; validated by that system's connector. */
  mapping: z.record(z.string(), z.unknown()).default({}),
  mappingVersion: z.number().int().positive().default(1),
});
export type EntityConfig = z.infer<typeof entityConfig>;

// Connector schemas are loose objects; in trueup.yaml a key no connector reads is a typo to
// report (`dropdir:` for `dropDir:`), never to ignore, so each is made strict here.
const systemConfig = z.discriminatedUnion('kind', [
  SYSTEM_CONFIG_SCHEMAS.postgres.strict(),
  SYSTEM_CONFIG_SCHEMAS.salesforce.strict(),
  SYSTEM_CONFIG_SCHEMAS.hubspot.strict(),
  SYSTEM_CONFIG_SCHEMAS.netsuite.strict(),
  SYSTEM_CONFIG_SCHEMAS.csv.strict(),
]);
export type SystemConfig = z.infer<typeof systemConfig>;

const tenantConfig = z
  .strictObject({
    displayName: z.string().optional(),
    timezone: timezone.default('UTC'),
    schedule: cronExpression.optional(),
    materiality: z
      .strictObject({
        threshold: decimal.default('0'),
        byCurrency: z
          .record(z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code'), decimal)
          .default({}),
      })
      .prefault({}),
    systems: z.record(
      z.string().regex(SYSTEM_NAME, 'system names are 1-31 characters of a-z, 0-9 and "_"'),
      systemConfig,
    ),
    entities: z.partialRecord(z.enum(ENTITIES), entityConfig).default({}),
    actions: z
      .strictObject({
        policy: z.enum(['propose', 'auto_approve', 'disabled']).default('propose'),
        createMissing: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((t, ctx) => {
    const roles = Object.values(t.systems).map((s) => s.role);
    for (const role of ['crm', 'erp'] as const) {
      if (roles.filter((r) => r === role).length > 1)
        ctx.addIssue({
          code: 'custom',
          path: ['systems'],
          message: `more than one system has role "${role}"`,
        });
    }
    for (const [entity, cfg] of Object.entries(t.entities) as [Entity, EntityConfig][]) {
      const known = new Set(ENTITY_FIELDS[entity].map((f) => f.name));
      // Each problem's path names the key or list item that holds the field, so its line is right.
      const fieldAt: [string, (string | number)[]][] = [
        ...Object.keys(cfg.compare).map((f): [string, (string | number)[]] => [f, ['compare', f]]),
        ...Object.keys(cfg.survivorship).map((f): [string, (string | number)[]] => [f, ['survivorship', f]]),
        ...cfg.ignoreFields.map((f, i): [string, (string | number)[]] => [f, ['ignoreFields', i]]),
        ...cfg.match.keys.map((k, i): [string, (string | number)[]] => [
          k.field,
          ['match', 'keys', i, 'field'],
        ]),
      ];
      for (const [field, at] of fieldAt)
        if (!known.has(field))
          ctx.addIssue({
            code: 'custom',
            path: ['entities', entity, ...at],
            message: `${entity} has no canonical field "${field}"`,
          });
      for (const name of Object.keys(cfg.mapping))
        if (!t.systems[name])
          ctx.addIssue({
            code: 'custom',
            path: ['entities', entity, 'mapping', name],
            message: `no system named "${name}" in this tenant`,
          });
    }
  });
export type TenantConfig = z.infer<typeof tenantConfig>;

export const configSchema = z.strictObject({
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
  tenants: z
    .record(
      z.string().regex(TENANT_ID_PATTERN, 'tenant ids are 1-63 characters of a-z, 0-9, "_" and "-"'),
      tenantConfig,
    )
    .default({}),
});

export type TrueupConfig = z.infer<typeof configSchema>;

/** The names of a tenant's CRM and ERP systems (its systems with role crm / erp), when it has them. */
export function systemsByRole(t: TenantConfig): { crm?: string; erp?: string } {
  const named = (role: 'crm' | 'erp') => Object.entries(t.systems).find(([, s]) => s.role === role)?.[0];
  const crm = named('crm');
  const erp = named('erp');
  return { ...(crm ? { crm } : {}), ...(erp ? { erp } : {}) };
}
