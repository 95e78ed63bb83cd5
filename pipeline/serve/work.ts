// What `serve` asks of the rest of trueup, as one small interface: capture a source (stream or
// pass), reconcile a tenant, backfill, apply, and read a CDC source's figures. jobs.ts implements
// it with trueup's real entry points; tests give their own. Nothing here imports the code behind it.
import type { Entity } from '../../staging/model/entities.js';
import type { SystemConfig, TenantConfig } from '../config/schema.js';
import type { BackfillJobData } from './job-data.js';

/** How a system is captured: one continuous stream (CDC), or passes at an interval (API, CSV). */
export type CaptureMode = 'continuous' | 'passes';

/** What a capture (a pass, or a stream that ended) reports, as far as serve counts it. */
export interface CaptureReport {
  status: 'completed' | 'paused' | 'failed' | 'stopped';
  error?: string;
  requests: number;
  retries: number;
  throttled: number;
  /** Per stream of a pass: the entity, rows staged (inserted or updated) and dead-lettered. */
  streams: { entity: string; staged: number; deadLettered: number }[];
  /**
   * Per entity, as `trueup sync` prints them (read back from staging after the pass): rows read,
   * staged, tombstoned and dead-lettered by it (with the reasons), and the open dead letters.
   * Absent when the pass could not tally them.
   */
  entities?: EntityFigures[];
  /** The entities whose dead letters this pass exceed the tenant's sync.maxDeadLetterShare. */
  deadLetterAlerts?: DeadLetterAlertView[];
}

export interface EntityFigures {
  entity: string;
  read: number;
  staged: number;
  tombstones: number;
  deadLetters: number;
  openDeadLetters: number;
  /** This pass's dead letters by reason, with the first record ids. */
  reasons: { kind: string; reason: string; count: number; sourceIds: (string | null)[] }[];
}

/** One entity over `sync.maxDeadLetterShare`: the message names the mapping to look at. */
export interface DeadLetterAlertView {
  entity: string;
  deadLetters: number;
  read: number;
  message: string;
}

export interface ReconcileRequest {
  tenant: string;
  tenantConfig: TenantConfig;
  entities: readonly Entity[];
  full: boolean;
  confirmWaitMs: number;
  /** The queue job it runs, and the fire instant of a scheduled run (logs, tests). */
  job: { id: string; scheduledAt?: string | undefined };
}

export interface ReconcileOutcome {
  runId: string;
  status: 'succeeded' | 'failed';
  totals: { discrepancies: number; material: number; actions: number };
  errors: { entity: string; message: string }[];
}

/** A backfill job's data (a window, ids or every row; postgres' `where`/`table`) and its tenant's config. */
export type BackfillRequest = BackfillJobData & { tenantConfig: TenantConfig };

/** Applies what the tenant's policy approved, after a scheduled run (`actions.applyAfterRun`). */
export interface ApplyRequest {
  tenant: string;
  tenantConfig: TenantConfig;
  /** The scheduled run whose approvals are applied (logs). */
  runId?: string | undefined;
}

export interface ApplyOutcome {
  applied: number;
  failed: number;
  skippedStale: number;
  /** Batches that could not be applied now (a system down): their actions stay approved. */
  notNow: number;
  errors: string[];
}

/** A CDC source's position as the source database sees it (metrics). */
export interface CdcFigures {
  slot: string;
  /** Source WAL after the slot's confirmed position: what trueup has not acknowledged yet. */
  lagBytes: number | null;
  /** Source WAL the slot keeps from being recycled (current position − restart_lsn). */
  retainedBytes: number | null;
}

export interface ServeWork {
  captureMode(config: SystemConfig): CaptureMode | undefined;
  /** Whether the system's kind can re-read a window or given ids (what a backfill does). */
  rereadable(config: SystemConfig): boolean;
  /** Runs a continuous source until `signal` aborts (it then commits, acknowledges and releases its claim) or it fails. */
  stream(
    tenant: string,
    system: string,
    config: SystemConfig,
    tenantConfig: TenantConfig,
    signal: AbortSignal,
  ): Promise<CaptureReport>;
  /** One pass of a polled source (full the first time, incremental after). */
  pass(
    tenant: string,
    system: string,
    config: SystemConfig,
    tenantConfig: TenantConfig,
    signal: AbortSignal,
  ): Promise<CaptureReport>;
  reconcile(req: ReconcileRequest): Promise<ReconcileOutcome>;
  backfill(req: BackfillRequest): Promise<CaptureReport>;
  apply(req: ApplyRequest): Promise<ApplyOutcome>;
  /** Undefined when the system is not a CDC source; throws when the source cannot be reached. */
  cdcFigures(tenant: string, system: string, config: SystemConfig): Promise<CdcFigures | undefined>;
  /** Marks runs a lost job left `running` as failed (the job itself is retried). */
  abandonRuns(tenant: string, since: Date, reason: string): Promise<number>;
  close(): Promise<void>;
}
