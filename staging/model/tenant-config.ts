// The tenant config the engine reads: comparators, survivorship, entity settings, materiality,
// actions policy. `systems` is generic here (kind + role + the connector's own part): the config
// loader (pipeline/config, layer 4) composes this schema with the connectors' system schemas.
import cron from 'node-cron';
import { z } from 'zod';
import { ENTITIES, ENTITY_FIELDS, type Entity } from './entities.js';
import { DECIMAL_PATTERN } from './money.js';

export const SYSTEM_ROLES = ['crm', 'erp'] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

/** What every system config has, whatever its kind; the rest is the connector's own part. */
export interface SystemConfigBase {
  kind: string;
  role: SystemRole;
}

/** A secret in config text is a reference, `${env:NAME}` or `${file:/path}`, resolved at load. */
export const SECRET_REF = /\$\{(env|file):([^}]+)\}/g;
export const WHOLE_SECRET_REF = /^\$\{(env|file):[^}]+\}$/;

export const SYSTEM_NAME_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

const decimal = z.string().regex(DECIMAL_PATTERN, 'expected a decimal string such as "100.00"');

export const timezone = z.string().refine((tz) => {
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

export const COMPARATOR_TYPES = ['exact', 'text', 'numeric', 'money', 'date', 'enum'] as const;

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

export const SURVIVORSHIP_RULES = [
  'owner',
  'most_recent',
  'most_complete',
  'max',
  'min',
  'report_only',
] as const;

export const survivorshipRule = z.discriminatedUnion('rule', [
  z.strictObject({ rule: z.literal('owner'), owner: z.enum(SYSTEM_ROLES).optional() }),
  z.strictObject({ rule: z.literal('most_recent') }),
  z.strictObject({ rule: z.literal('most_complete') }),
  z.strictObject({ rule: z.literal('max') }),
  z.strictObject({ rule: z.literal('min') }),
  z.strictObject({ rule: z.literal('report_only') }),
]);
export type SurvivorshipRule = z.infer<typeof survivorshipRule>;

const normaliser = z.enum(['none', 'text', 'email', 'tax_id', 'phone', 'name']);

export const entityConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  match: z
    .strictObject({
      /** Canonical field on the CRM record that holds the ERP source id, and the reverse. */
      direct: z.array(z.strictObject({ side: z.enum(SYSTEM_ROLES), field: z.string() })).default([
        { side: 'crm', field: 'erp_ref' },
        { side: 'erp', field: 'crm_ref' },
      ]),
      /** Business keys tried in order after xref and direct keys. */
      keys: z.array(z.strictObject({ field: z.string(), normalise: normaliser.default('text') })).default([]),
      /**
       * The side of which several live records may link to one record of the other side (`crm`:
       * several CRM records per ERP record): each becomes a pair with that one record instead of a
       * duplicate_match. Unset: one-to-one.
       */
      allowMany: z.enum(SYSTEM_ROLES).optional(),
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
export type EntityConfig = z.infer<typeof entityConfigSchema>;

/** The generic system entry: kind and role checked, the connector's own keys passed through. */
export const systemConfigBase = z.looseObject({ kind: z.string(), role: z.enum(SYSTEM_ROLES) });

/** What `policy: auto_approve` may approve on its own; beyond it, a person decides (docs/apply.md). */
const autoApproveLimits = z
  .strictObject({
    entities: z.array(z.enum(ENTITIES)).optional(),
    fields: z
      .array(
        z.string().refine((f) => ENTITIES.some((e) => ENTITY_FIELDS[e].some((d) => d.name === f)), {
          message: 'no entity has this canonical field',
        }),
      )
      .optional(),
    /** The largest money impact (per discrepancy, in its currency) approved without a person. */
    maxMoneyImpact: decimal.optional(),
  })
  .prefault({});
export type AutoApproveLimits = z.infer<typeof autoApproveLimits>;

const tenantFields = {
  displayName: z.string().optional(),
  /**
   * The share of dead letters a source may have, per entity. Reconcile: a side whose open dead
   * letters exceed it of its records (staged + dead letters) is incomplete, and `reconcile
   * --fail-on` fails unless `--allow-incomplete`. Sync: a run whose own dead letters exceed it
   * of the rows it read exits 1, naming the mapping (docs/capture.md).
   */
  sync: z.strictObject({ maxDeadLetterShare: z.number().min(0).max(1).default(0.01) }).prefault({}),
  timezone: timezone.default('UTC'),
  schedule: cronExpression.optional(),
  materiality: z
    .strictObject({
      threshold: decimal.default('0'),
      byCurrency: z.record(z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code'), decimal).default({}),
    })
    .prefault({}),
  entities: z.partialRecord(z.enum(ENTITIES), entityConfigSchema).default({}),
  actions: z
    .strictObject({
      policy: z.enum(['propose', 'auto_approve', 'disabled']).default('propose'),
      createMissing: z.boolean().default(false),
      limits: autoApproveLimits,
      /** A scheduled run applies what the policy approved (docs/apply.md). */
      applyAfterRun: z.boolean().default(false),
      /** Who approves or applies an action must not be who accepted a discrepancy or linked the records. */
      requireDistinctApprover: z.boolean().default(false),
    })
    .prefault({}),
};
const tenantObject = z.strictObject(tenantFields);

/** A tenant's config; `S` is the system config type (the engine reads only kind and role). */
export type TenantConfig<S extends SystemConfigBase = SystemConfigBase> = z.infer<typeof tenantObject> & {
  systems: Record<string, S>;
};

/** The tenant schema with `system` validating each entry of `systems` (the loader passes the connectors' union). */
export function tenantConfigSchema<S extends z.ZodType<SystemConfigBase>>(system: S) {
  return z
    .strictObject({
      ...tenantFields,
      systems: z.record(
        z.string().regex(SYSTEM_NAME_PATTERN, 'system names are 1-31 characters of a-z, 0-9 and "_"'),
        system,
      ),
    })
    .superRefine(checkTenant);
}

function checkTenant(t: TenantConfig, ctx: z.RefinementCtx): void {
  const roles = Object.values(t.systems).map((s) => s.role);
  for (const role of SYSTEM_ROLES) {
    if (roles.filter((r) => r === role).length > 1)
      ctx.addIssue({ code: 'custom', path: ['systems'], message: `more than one system has role "${role}"` });
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
}

/** The names of a tenant's CRM and ERP systems (its systems with role crm / erp), when it has them. */
export function systemsByRole(t: Pick<TenantConfig, 'systems'>): { crm?: string; erp?: string } {
  const named = (role: SystemRole) => Object.entries(t.systems).find(([, s]) => s.role === role)?.[0];
  const crm = named('crm');
  const erp = named('erp');
  return { ...(crm ? { crm } : {}), ...(erp ? { erp } : {}) };
}
