// What every stage of one reconcile job works with: the job's description, its DuckDB connection on
// the mirror, the thread's Postgres pool for staging, the mirror's layout, the job's scratch folder
// and the open dead letters of each side.
import type pg from 'pg';
import type { Duck } from '../duckdb/duck.js';
import type { Scratch } from '../duckdb/transfer.js';
import type { MirrorLayout } from '../mirror/mirror-layout.js';
import type { ReconcileJob } from '../pool/job-protocol.js';

export interface JobContext {
  readonly job: ReconcileJob;
  readonly duck: Duck;
  readonly pool: pg.Pool;
  readonly layout: MirrorLayout;
  readonly scratch: Scratch;
  /**
   * Open dead letters per side (match/dead-letters.ts), filled before matching: each side's
   * completeness, and whether lone records need checking against them.
   */
  readonly deadLetters: Record<'crm' | 'erp', number>;
}
