// The connector contract: the one interface an external system kind implements (like kysely's
// Dialect). Each `<kind>/index.ts` exports one Connector; the registry lists them; the stream
// runner (stream-runner.ts) does what every source shares. See docs/capture.md.
import type { z } from 'zod';
import type { Staging } from '../../staging/database.js';
import type { Entity } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { SystemConfigBase } from '../../staging/model/tenant-config.js';
import type { RecordRemap } from '../../staging/remap.js';
import type { Logger } from '../log/logger.js';
import type { ClientLimits } from './http/api-client.js';
import type { FaultConfig } from './http/sandbox-server.js';
import type { TenantEntities } from './map-record.js';
import type { PendingUnit } from './pending-unit.js';

export interface Connector<C extends SystemConfigBase = SystemConfigBase> {
  readonly kind: string;
  /** One line for `--help` and docs: what the kind reads and how. */
  readonly title: string;
  /**
   * The kind's entry under `tenants.<t>.systems.<name>` in trueup.yaml (secrets as references):
   * a loose object with `kind: z.literal(kind)` and `role`; the config loader makes it strict.
   */
  readonly configSchema: z.ZodObject;
  /** The same entry as the loaded config holds it (secrets resolved), in the kind's own type. */
  parseConfig(loaded: unknown): C;
  readonly capture: Capture<C>;
  /**
   * A bounded re-read (a window of modification times, or given ids) that stages what it reads
   * without moving any checkpoint. Absent where the source has no cheap way to do it.
   */
  readonly reread?: (system: SystemHandle<C>, request: RereadRequest) => SourcePass | Promise<SourcePass>;
  /**
   * The kind's own mapper over a stored source row (a staged row's `raw`, or the row a dead letter
   * kept), built from the current config of one system and entity: `trueup dlq replay` maps dead
   * letters again with it and `trueup remap` recomputes staged canonical columns. Throws
   * MappingConfigError when the current mapping cannot be compiled. Absent: no re-mapping.
   */
  readonly remapper?: (system: RemapSystem<C>, entity: Entity) => RecordRemap;
  /** The corrective writer (upsert/create of canonical fields). Absent: the kind cannot be written to. */
  readonly writer?: (system: SystemHandle<C>, opts?: WriterOptions) => ConnectorWriter;
  /** Starts a local server speaking the vendor's API (`trueup sandbox <kind>`). */
  readonly sandbox?: SandboxStarter;
}

/** How a kind captures: passes (full, then incremental, every `--interval`) or one continuous stream. */
export type Capture<C> =
  | { readonly mode: 'passes'; open(system: SystemHandle<C>): SourcePass | Promise<SourcePass> }
  | {
      readonly mode: 'continuous';
      run(system: SystemHandle<C>, how: ContinuousRun): Promise<ContinuousOutcome>;
    };

/** What a re-mapper is built from: one system's parsed config and the tenant's entity configs. */
export interface RemapSystem<C> {
  tenant: string;
  system: string;
  config: C;
  entities?: TenantEntities | undefined;
}

/** One system of one tenant, as the runner hands it to its kind. */
export interface SystemHandle<C> {
  tenant: string;
  system: string;
  config: C;
  staging: Staging;
  /** A child logger carrying tenant, system and connector kind. */
  logger: Logger;
  options: SyncOptions;
}

export interface SyncOptions {
  /** The tenant's entity configs (mapping overrides, mappingVersion), read through tenantEntityMapping. */
  entities?: TenantEntities;
  /** auto (default): full load for streams without a checkpoint, incremental otherwise. */
  mode?: 'auto' | 'full' | 'incremental';
  /** Restrict to these streams (object types, record streams, entities). */
  streams?: readonly string[];
  /** Overrides of the configured client limits (tests shorten backoffs). */
  limits?: Partial<ClientLimits>;
  /** Called after each committed unit; throwing from it stands for a crash right after the commit (tests). */
  onUnitStaged?: (info: { stream: string; rows: number; position: unknown }) => void | Promise<void>;
  /** After a 401 (OAuth refresh): a returned string becomes the bearer token. Without it a 401 is terminal. */
  refreshAuth?: () => Promise<string | undefined>;
  /** Clock (epoch ms); tests pin it. */
  now?: () => number;
}

/** One pass over a system: its streams in run order, and the resources they share. */
export interface SourcePass {
  /** Every stream of the pass; a daily limit pauses the one it stopped and those after it. */
  readonly streams: readonly StreamPlan[];
  /** Runs before the first stream (reading the vendor's budget, say); a paused error pauses every stream. */
  begin?(): Promise<void>;
  /** Requests made, retried and throttled, for the report. */
  stats?(): { requests: number; retries: number; throttled: number };
  close?(): Promise<void>;
}

/** One stream: a checkpoint name, the entity it stages, and where it starts from its checkpoint. */
export interface StreamPlan<P = unknown> {
  readonly name: string;
  readonly entity: Entity;
  /** Given the saved checkpoint (undefined: none yet): the report's mode and the read. */
  start(saved: P | undefined): StreamStart<P> | Promise<StreamStart<P>>;
}

export interface StreamStart<P> {
  mode: 'full' | 'incremental';
  read(out: StreamOutput<P>): Promise<void>;
}

/** What a stream's read produces into: canonical changes in units, each with the position after it. */
export interface StreamOutput<P = unknown> {
  readonly stream: string;
  readonly logger: Logger;
  /** Counts records received from the source (staged, rejected or skipped). */
  received(n?: number): void;
  /** A note for the stream's report ("2 file(s) staged"). */
  note(detail: string): void;
  /** Stages the unit (dead letters included) and saves `position` as the checkpoint, in one transaction. */
  commit(position: P, unit: PendingUnit, location: string): Promise<void>;
}

/** What a re-read reads: a window, given ids, or every record (a whole table). */
export type RereadSlice =
  /** Records modified in [from, to) (ISO times). */
  | { window: { from: string; to: string } }
  /** Records with these source ids. */
  | { ids: readonly string[] }
  /** Every record of the entity; only kinds that can read a whole table take it. */
  | { all: true };

export type RereadRequest = RereadSlice & {
  entity: Entity;
  /**
   * Narrowing only a SQL source can do (`backfill --where/--table`): a trusted predicate on the
   * source table and one mapped table of the entity. Other kinds refuse a request that has it.
   */
  source?: { where?: string; table?: string };
};

/** The window or ids of an API kind's re-read; a TrueupError for what only a SQL source can do. */
export function windowOrIds(
  kind: string,
  request: RereadRequest,
): { window: { from: string; to: string } } | { ids: readonly string[] } {
  if (request.source?.where !== undefined || request.source?.table !== undefined || 'all' in request)
    throw new TrueupError(
      `a ${kind} re-read takes a window of modification times or ids; a whole table, --where and --table apply to postgres systems only`,
      { subject: { entity: request.entity } },
    );
  return request;
}

export interface ContinuousRun {
  /** Stage what is available now, then return. */
  once: boolean;
  /** Drop the source's position and read it again from a fresh snapshot. */
  resnapshot: boolean;
  signal?: AbortSignal;
}

export interface ContinuousOutcome {
  outcome: 'caught_up' | 'stopped' | 'failed';
  error?: Error;
  /** Shown after the outcome (slot name, stopped tables). */
  detail?: string;
}

/** A record in canonical fields, keyed by the value of the kind's external id. */
export interface CanonicalWrite {
  key: string;
  fields: Readonly<Record<string, unknown>>;
  /** The target system's own id of the record (its staged source id); absent for a record to create. */
  targetId?: string | null;
  /**
   * The record as reconciliation saw it, for a writer that compares and sets in one step (Postgres):
   * a record that differs now is not written (result error code STALE).
   */
  expected?: { fields: Readonly<Record<string, unknown>>; sourceUpdatedAt: string | null };
  /** The action's idempotency key, carried into the write where the vendor has a place for it (HubSpot objectWriteTraceId). */
  idempotencyKey?: string;
}

/** The apply step's batch a write belongs to (docs/apply.md); writers that record it can answer `committed`. */
export interface WriteBatch {
  batch: bigint;
}

/** A record as the target system holds it now, in canonical fields (write-back's compare-and-set). */
export interface CurrentRecord {
  key: string;
  found: boolean;
  /** The target system's id of the record. */
  id: string | null;
  fields: Record<string, unknown>;
  /** Its modification stamp as a staging version, where the system stamps each record (APIs). */
  version: bigint | null;
  /** The source's own modification time (ISO 8601), where mapped. */
  sourceUpdatedAt: string | null;
}

export interface WriteResult {
  key: string;
  ok: boolean;
  /** The target system's id of the record, when it says. */
  id: string | null;
  /** True when the upsert created the record; null when unknown or failed. */
  created: boolean | null;
  error?: { code: string; message: string };
}

/** Writes canonical records into one system; upsert by external key, so a retry is harmless. */
export interface ConnectorWriter {
  /** Upserts (creating when absent) records of `entity`; results in input order. */
  upsert(entity: Entity, records: readonly CanonicalWrite[], batch?: WriteBatch): Promise<WriteResult[]>;
  /** Reads records by key (or targetId) as they are now: the dry-run's current values, the stale guard. */
  read?(
    entity: Entity,
    records: readonly Pick<CanonicalWrite, 'key' | 'targetId'>[],
  ): Promise<CurrentRecord[]>;
  /** The given canonical fields of `entity` this writer cannot write, each with why (unmapped, an expression). */
  unwritable?(entity: Entity, fields: readonly string[]): { field: string; reason: string }[];
  /** Whether batch `batch` committed, where the writer records it atomically with the data ('unknown': ask the records). */
  committed?(batch: bigint): Promise<'yes' | 'no' | 'unknown'>;
  /** Records per call the vendor allows; the apply step's batch size. */
  readonly batchLimit?: number;
  close(): Promise<void>;
}

export interface WriterOptions {
  /** Overrides of the configured client limits. */
  limits?: Partial<ClientLimits>;
  /** The tenant's entity configs (the mapping overrides the extraction reads); default the run's. */
  entities?: TenantEntities;
}

export interface SandboxStartOptions {
  port: number;
  host: string;
  seed: number;
  /** Size of the main object (Salesforce: Accounts); the others scale with it. Default per vendor. */
  records?: number;
  /** The bearer token the sandbox accepts. */
  token: string;
  faults?: FaultConfig;
  /** Serve the CRM side of the shared ground-truth generator instead of the vendor's own seed. */
  groundTruth?: boolean;
}

export interface RunningSandbox {
  url: string;
  token: string;
  /** One paragraph for the terminal: what is served and a config snippet that points at it. */
  summary: string;
  close(): Promise<void>;
}

export type SandboxStarter = (opts: SandboxStartOptions) => Promise<RunningSandbox>;
