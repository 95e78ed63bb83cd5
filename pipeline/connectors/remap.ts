// Re-mappers of a tenant's systems (`trueup dlq replay`, `trueup remap`): each system's kind
// builds its own mapper over stored source rows from the current config (Connector.remapper), so
// the mapping logic lives once, in the kind. A kind without one gives undefined: its dead letters
// are replayed as the change they stored.
import type { Entity } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { RecordRemap } from '../../staging/remap.js';
import type { TenantEntities } from './map-record.js';
import { findConnector } from './registry.js';
import { kindOf } from './system-handle.js';

/**
 * The mapper of (system, entity) for one tenant, from its systems as the loaded config holds
 * them. Throws when the system is not configured, its kind unknown, or its current mapping
 * invalid (MappingConfigError).
 */
export function tenantRemappers(
  tenant: string,
  systems: Readonly<Record<string, unknown>>,
  entities: TenantEntities | undefined,
): (system: string, entity: Entity) => RecordRemap | undefined {
  return (system, entity) => {
    const config = Object.hasOwn(systems, system) ? systems[system] : undefined;
    if (config === undefined)
      throw new TrueupError(`tenant ${tenant} has no system "${system}" in the config`, {
        subject: { tenant, system },
      });
    const kind = kindOf(config);
    const connector = findConnector(kind);
    if (!connector)
      throw new TrueupError(`no connector kind "${kind}" is registered`, { subject: { tenant, system } });
    if (!connector.remapper) return undefined;
    return connector.remapper({ tenant, system, config: connector.parseConfig(config), entities }, entity);
  };
}
