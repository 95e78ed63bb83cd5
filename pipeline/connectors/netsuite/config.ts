// Config of a `netsuite` system (SuiteQL over REST): authentication (a bearer token, or OAuth 1.0a
// token-based authentication signed with HMAC-SHA256), which record streams to extract, the
// SuiteQL page size and the per-query result cap that windowing stays under, and mapping overrides.
import { z } from 'zod';
import { baseUrl, clientLimits, mappingOverrides, secretRef } from '../connector-config.js';

export const NETSUITE_STREAMS = ['customer', 'item', 'salesorder', 'invoice', 'payment'] as const;
export type NetsuiteStream = (typeof NETSUITE_STREAMS)[number];

const netsuiteFields = z.looseObject({
  kind: z.literal('netsuite'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl(),
  /** Bearer token (sandbox, OAuth 2.0 machine-to-machine). */
  accessToken: secretRef().optional(),
  /** OAuth 1.0a token-based authentication (the usual NetSuite integration record + token). */
  oauth1: z
    .strictObject({
      realm: z.string().min(1),
      consumerKey: secretRef(),
      consumerSecret: secretRef(),
      tokenId: secretRef(),
      tokenSecret: secretRef(),
    })
    .optional(),
  limits: clientLimits,
  streams: z
    .array(z.enum(NETSUITE_STREAMS))
    .min(1)
    .default([...NETSUITE_STREAMS]),
  /** Extract deletes from the `deletedrecord` table. */
  deletes: z.boolean().default(true),
  /** SuiteQL page size (NetSuite allows at most 1000). */
  pageSize: z.number().int().min(1).max(1000).default(1000),
  /** A SuiteQL query cannot return more than this; keyset pages (offset 0) ask for min(pageSize, cap). */
  queryResultCap: z.number().int().min(1).default(100_000),
  overlapMs: z.number().int().min(0).default(300_000),
  stageBatchRows: z.number().int().min(1).max(50_000).default(1000),
  mapping: z.partialRecord(z.enum(NETSUITE_STREAMS), mappingOverrides).default({}),
});

const needsAuth = (c: { accessToken?: string | undefined; oauth1?: unknown }) =>
  c.accessToken !== undefined || c.oauth1 !== undefined;
const authMessage = { message: 'netsuite needs accessToken or oauth1', path: ['accessToken'] };

export const netsuiteSystemConfig = netsuiteFields.refine(needsAuth, authMessage);

/** The same after secret references were resolved (what `runNetsuiteSync` receives). */
export const netsuiteResolvedConfig = netsuiteFields
  .extend({
    accessToken: z.string().min(1).optional(),
    oauth1: z
      .strictObject({
        realm: z.string().min(1),
        consumerKey: z.string().min(1),
        consumerSecret: z.string().min(1),
        tokenId: z.string().min(1),
        tokenSecret: z.string().min(1),
      })
      .optional(),
  })
  .refine(needsAuth, authMessage);
export type NetsuiteSystemConfig = z.infer<typeof netsuiteResolvedConfig>;
