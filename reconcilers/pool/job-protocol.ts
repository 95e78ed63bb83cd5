// The typed protocol between the main side (reconcile-pool.ts, run/reconcile-tenant.ts) and a
// reconcile worker thread (reconcile-worker.ts): a small serialisable job description in, a small
// result out. Large data never crosses the thread boundary: discrepancies and actions go to
// Postgres, the mirror lives in files.
import { join } from 'node:path';
import type { Entity } from '../../staging/model/entities.js';
import type { EntityConfig } from '../../staging/model/tenant-config.js';

export type ReconcileMode = 'full' | 'incremental';

/** The slice of a tenant's frozen config one job needs (plain data, structured-clone safe). */
export interface TenantSlice {
  systems: { crm: string; erp: string };
  entity: EntityConfig;
  materiality: { threshold: string; byCurrency: Record<string, string> };
  actions: { policy: 'propose' | 'auto_approve' | 'disabled'; createMissing: boolean };
  /**
   * The entities this one refers to (customer_ref, order_ref, applied_invoices) and their direct
   * keys: a reference is compared through the referenced entity's links (compare/references.ts).
   */
  references: Partial<Record<Entity, { direct: EntityConfig['match']['direct'] }>>;
  /** sync.maxDeadLetterShare: a side with more open dead letters than this share is incomplete. */
  maxDeadLetterShare: number;
}

export interface StreamPosition {
  system: string;
  stream: string;
  position: unknown;
  state: string;
  /** ISO time of the checkpoint's last update. */
  updatedAt: string;
}

export interface ReconcileJob {
  stagingUrl: string;
  tenant: string;
  entity: Entity;
  runId: string;
  config: TenantSlice;
  /** Folder holding this tenant's mirrors (<dataDir>/mirrors/<tenant>). */
  mirrorDir: string;
  /** `full` rebuilds nothing but compares everything; `incremental` falls back to full when it must. */
  mode: ReconcileMode;
  /** Drop and rebuild the mirror from staging (cold path). */
  rebuildMirror?: boolean;
  /** ISO time the run started and the sources' positions then (for in-flight confirmation). */
  runStartedAt: string;
  positions: StreamPosition[];
  confirm: { waitMs: number; pollMs: number; liveWindowMs: number };
  /** DuckDB threads for this job. */
  duckdbThreads?: number;
  /** DuckDB memory_limit for this job ("1536MiB"; duckdb/memory-limit.ts). Absent: DuckDB's own default. */
  duckdbMemoryLimit?: string;
  /** Parallel COPY streams for the cold path (default 2: one per side). */
  copyRanges?: number;
}

/** The mirror file of a job, which identifies the mirror: one per tenant folder and entity. */
export const mirrorFile = (job: Pick<ReconcileJob, 'mirrorDir' | 'entity'>) =>
  join(job.mirrorDir, `${job.entity}.duckdb`);

export interface JobTimings {
  refreshMs: number;
  matchMs: number;
  compareMs: number;
  confirmMs: number;
  writeMs: number;
  totalMs: number;
  /** Finer split of the same time (ms per phase, see job/reconcile-job.ts). */
  phases?: Record<string, number>;
}

/** Every discrepancy a run saw (re-examined or carried forward), summed up. */
export interface SeenTotals {
  counts: Record<string, number>;
  discrepancies: number;
  material: number;
  /** Of those, accepted by a reviewer (they stay accepted while they persist). */
  accepted: number;
  acceptedMaterial: number;
  /** Sum of money impact per currency (decimal strings). */
  moneyVariance: Record<string, string>;
}

export interface JobResult extends SeenTotals {
  tenant: string;
  entity: Entity;
  mode: ReconcileMode;
  mirror: {
    cold: boolean;
    rowsCopied: number;
    rows: number;
    lastSeq: string;
    /** Content hashes read from staging's stored column, or computed while copying. */
    contentHash: 'stored' | 'computed';
  };
  /** Records in the incremental scope (0 for a full run). */
  scope: { crm: number; erp: number };
  /** Matched pairs examined, and full rows read from staging for a close look. */
  pairs: number;
  wideRows: number;
  actions: number;
  resolved: number;
  resolvedInFlight: number;
  confirmation: 'not_needed' | 'confirmed' | 'timed_out';
  /** Each side's open dead letters and how complete the side is (issue 12). */
  completeness: Completeness;
  timings: JobTimings;
}

/** One side of an entity: its staged records, its open dead letters and their share. */
export interface SideCompleteness {
  system: string;
  /** Records staged (tombstones included). */
  staged: number;
  /** Open dead letters: records that could not be staged. */
  deadLetters: number;
  /** deadLetters / (staged + deadLetters); 0 when there is nothing. */
  deadLetterShare: number;
  /** 1 - deadLetterShare. */
  completeness: number;
}

export interface Completeness {
  crm: SideCompleteness;
  erp: SideCompleteness;
  /** sync.maxDeadLetterShare. */
  maxDeadLetterShare: number;
  /** The sides whose dead-letter share is above it. */
  incomplete: ('crm' | 'erp')[];
}
