// The connector kinds trueup knows. Config validation, `trueup sync`, `trueup sandbox` and the
// `--help` texts read this list. Adding a kind: its folder, and one line in BUILT_IN (or a
// registerConnector call, as a plugin or a test does).
import type { SystemConfigBase } from '../../staging/model/tenant-config.js';
import type { Connector } from './contract.js';
import { csvConnector } from './csv/index.js';
import { hubspotConnector } from './hubspot/index.js';
import { netsuiteConnector } from './netsuite/index.js';
import { postgresConnector } from './postgres/index.js';
import { salesforceConnector } from './salesforce/index.js';

// biome-ignore lint/suspicious/noExplicitAny: each kind has its own config type; the runner parses it with that kind's schema
type AnyConnector = Connector<any>;

const BUILT_IN: readonly AnyConnector[] = [
  postgresConnector,
  salesforceConnector,
  hubspotConnector,
  netsuiteConnector,
  csvConnector,
];

const registered = new Map<string, AnyConnector>(BUILT_IN.map((c) => [c.kind, c]));

/** Adds a connector kind (a plugin, a test). A kind already registered is an error. */
export function registerConnector<C extends SystemConfigBase>(connector: Connector<C>): void {
  if (registered.has(connector.kind))
    throw new Error(`connector kind "${connector.kind}" is already registered`);
  registered.set(connector.kind, connector);
}

/** Removes a kind added with registerConnector (tests); the built-in kinds stay. */
export function unregisterConnector(kind: string): void {
  if (BUILT_IN.some((c) => c.kind === kind)) throw new Error(`connector kind "${kind}" is built in`);
  registered.delete(kind);
}

/** Every registered kind, built-in ones first. */
export function connectors(): readonly AnyConnector[] {
  return [...registered.values()];
}

export function connectorKinds(): string[] {
  return [...registered.keys()];
}

export function findConnector(kind: string): AnyConnector | undefined {
  return registered.get(kind);
}

/** The kinds that bring a sandbox (`trueup sandbox <kind>`). */
export function sandboxKinds(): string[] {
  return connectors()
    .filter((c) => c.sandbox)
    .map((c) => c.kind);
}
