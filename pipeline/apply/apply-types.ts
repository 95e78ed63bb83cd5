// The apply step's inputs and its report (docs/apply.md): what `trueup actions apply` prints, the
// dry-run included, and what a scheduled run logs.
import type { Staging } from '../../staging/database.js';
import type { Entity } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { TenantConfig } from '../../staging/model/tenant-config.js';
import type { ConnectorWriter } from '../connectors/contract.js';
import type { Logger } from '../log/logger.js';

export interface ApplyHooks {
  /** After a batch's attempts are logged, before the write leaves trueup (tests crash here). */
  beforeWrite?(batch: bigint): void | Promise<void>;
  /** After the write returned, before its bookkeeping (tests crash here). */
  afterWrite?(batch: bigint): void | Promise<void>;
  /** Actions decided so far out of the total selected (after each batch; the CLI's progress). */
  progress?(done: number, total: number): void;
}

export interface ApplyOptions {
  staging: Staging;
  tenant: string;
  config: TenantConfig;
  /** Who applies: audited on every action, checked by segregation of duties. */
  by: string;
  /** false: the dry-run (reads the systems, writes nothing anywhere). */
  write: boolean;
  entity?: Entity;
  ids?: readonly string[];
  /** Only actions that write to this system. */
  target?: string;
  /** At most this many records per write call (never more than the vendor allows). */
  batchSize?: number;
  /** Only actions the policy approved (a scheduled run's applyAfterRun). */
  onlyPolicyApproved?: boolean;
  logger: Logger;
  /** Opens the writer of one of the tenant's systems (the connector's, through the registry). */
  openWriter(system: string): ConnectorWriter;
  hooks?: ApplyHooks;
}

export type ItemOutcome =
  | 'applied'
  | 'not_now'
  | 'failed'
  | 'skipped_stale'
  | 'held'
  | 'would_apply'
  | 'would_skip_stale'
  | 'would_fail'
  | 'decided_meanwhile';

/** One action in the report: the record, each field now and after, and what happened. */
export interface ApplyItem {
  actionId: string;
  entity: string;
  kind: 'upsert' | 'create';
  targetSystem: string;
  targetId: string | null;
  key: string;
  changes: { field: string; current: unknown; next: unknown }[];
  outcome: ItemOutcome;
  reason: string | null;
  /** Fields a create leaves out: the target cannot hold them and compare ignores them. */
  dropped: string[];
}

export interface RecoveredItem {
  actionId: string;
  batch: string;
  /** applied: the interrupted write had landed; retry: it had not (written now, once); in_doubt: skipped_stale. */
  resolution: 'applied' | 'retry' | 'in_doubt' | 'unresolved';
  reason: string | null;
}

export interface ApplyReport {
  tenant: string;
  dryRun: boolean;
  items: ApplyItem[];
  recovered: RecoveredItem[];
  /** Approved actions whose record the action does not name (not applied). */
  unaddressable: { id: string; problem: string }[];
  /** Batches that could not be applied now (a system down, a read failing); their actions stay approved. */
  errors: { system: string; entity: string; actions: string[]; message: string }[];
  counts: Partial<Record<ItemOutcome, number>>;
}

export class ApplyError extends TrueupError {
  override name = 'ApplyError';
}
