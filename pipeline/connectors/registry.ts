// The connector kinds trueup knows, each with the zod schema of its system config. Adding a
// connector means adding its folder and one line here.
import type { z } from 'zod';
import { csvSystemConfig } from './csv/config.js';
import { hubspotSystemConfig } from './hubspot/config.js';
import { netsuiteSystemConfig } from './netsuite/config.js';
import { postgresSystemConfig } from './postgres/config.js';
import { salesforceSystemConfig } from './salesforce/config.js';

export const SYSTEM_CONFIG_SCHEMAS = {
  postgres: postgresSystemConfig,
  salesforce: salesforceSystemConfig,
  hubspot: hubspotSystemConfig,
  netsuite: netsuiteSystemConfig,
  csv: csvSystemConfig,
} as const satisfies Record<string, z.ZodType>;

export type ConnectorKind = keyof typeof SYSTEM_CONFIG_SCHEMAS;
export const CONNECTOR_KINDS = Object.keys(SYSTEM_CONFIG_SCHEMAS) as ConnectorKind[];
