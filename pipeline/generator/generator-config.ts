// The tenant config under which a generated tenant's truth is exactly what a correct
// reconciliation reports (ground-truth.ts), and the overrides a test gives the generator.
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import type { SurvivorshipRule } from '../../staging/model/tenant-config.js';
import { moneyFields, PROFILES } from './entity-profiles.js';

export interface GeneratorOverrides {
  /** Money tolerance in minor units set on every money field; edge cases sit just inside it. Default 0. */
  toleranceMinor?: number;
  /** CRM spells enum values its own way ("Net 30") and the config maps them. Default true. */
  valueMaps?: boolean;
  /** Survivorship rules per entity and field (owners, most_recent, …) put into the tenant config. */
  survivorship?: Partial<Record<Entity, Record<string, SurvivorshipRule>>>;
  /** Tenant materiality threshold. Default "100". */
  materialityThreshold?: string;
  /** Tenant action policy allows creating missing records. Default true. */
  createMissing?: boolean;
}

/** What the config depends on (GenerateOptions without the seed). */
export interface GeneratorConfigOptions {
  tenant: string;
  overrides?: GeneratorOverrides;
  systems?: { crm: string; erp: string };
}

/**
 * The tenant config (raw, to be validated) under which the generated truth is exactly what a
 * correct reconciliation reports: business keys, value maps for the CRM enum spellings, money
 * tolerances, survivorship overrides, materiality and action policy.
 */
export function generatorTenantConfig(opts: GeneratorConfigOptions): Record<string, unknown> {
  const ov = opts.overrides ?? {};
  const systems = opts.systems ?? { crm: 'crm', erp: 'erp' };
  const entities: Record<string, unknown> = {};
  for (const entity of ENTITIES) {
    const p = PROFILES[entity];
    const compare: Record<string, unknown> = {};
    if (ov.valueMaps ?? true) {
      const map: Record<string, string> = {};
      for (const [canonical, spelled] of Object.entries(p.enumField.values)) map[spelled] = canonical;
      compare[p.enumField.field] = { type: 'enum', valueMap: { [systems.crm]: map } };
    }
    if (ov.toleranceMinor)
      for (const m of moneyFields(entity))
        compare[m.name] = { type: 'money', toleranceMinor: ov.toleranceMinor };
    entities[entity] = {
      match: {
        keys: p.businessKey ? [{ field: p.businessKey.field, normalise: p.businessKey.normalise }] : [],
      },
      compare,
      survivorship: ov.survivorship?.[entity] ?? {},
    };
  }
  return {
    displayName: `${opts.tenant} (generated)`,
    materiality: { threshold: ov.materialityThreshold ?? '100' },
    systems: {
      [systems.crm]: { kind: 'csv', role: 'crm', dropDir: `/tmp/trueup-generated/${opts.tenant}/crm` },
      [systems.erp]: { kind: 'csv', role: 'erp', dropDir: `/tmp/trueup-generated/${opts.tenant}/erp` },
    },
    entities,
    actions: { policy: 'propose', createMissing: ov.createMissing ?? true },
  };
}
