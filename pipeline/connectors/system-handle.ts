// One tenant's system opened through its kind: the registered connector, and the handle the kind
// is given (its config parsed by the kind's own schema, a child logger). Used by the stream runner
// and the writer's entry point alike.
import type { Staging } from '../../staging/database.js';
import { TrueupError } from '../../staging/model/errors.js';
import { childWith, type Logger } from '../log/logger.js';
import type { Connector, SyncOptions, SystemHandle } from './contract.js';
import { findConnector } from './registry.js';

export interface SyncDeps {
  staging: Staging;
  logger: Logger;
}

/** The `kind` a system config names ("(none)" when it names none). */
export function kindOf(config: unknown): string {
  const kind = config && typeof config === 'object' && 'kind' in config ? config.kind : undefined;
  return typeof kind === 'string' ? kind : '(none)';
}

/** A tenant's system, named, with its entry of the loaded config. */
export interface SystemTarget {
  tenant: string;
  system: string;
  config: unknown;
}

/** Throws (a TrueupError, or the kind's schema error) when the kind is unknown or the config invalid. */
export function openSystem(
  deps: SyncDeps,
  target: SystemTarget,
  options: SyncOptions,
  logFields: Record<string, unknown> = {},
  // biome-ignore lint/suspicious/noExplicitAny: each kind has its own config type, parsed by its own schema
): { connector: Connector<any>; handle: SystemHandle<unknown> } {
  const { tenant, system, config } = target;
  const kind = kindOf(config);
  const connector = findConnector(kind);
  if (!connector)
    throw new TrueupError(`no connector kind "${kind}" is registered`, { subject: { tenant, system } });
  const logger = childWith(deps.logger, { tenant, system, connector: kind, ...logFields });
  const handle = {
    tenant,
    system,
    config: connector.parseConfig(config),
    staging: deps.staging,
    logger,
    options,
  };
  return { connector, handle };
}
