// Config of a `postgres` system (CDC through logical replication). Issue #3 fleshes this out.
import { z } from 'zod';
import { connectionUrl } from '../connector-config.js';

export const postgresSystemConfig = z.looseObject({
  kind: z.literal('postgres'),
  role: z.enum(['crm', 'erp']),
  connection: connectionUrl(),
});
